"""Writes icecycle/sounds/take-it-off.wav: the alarm tone icecycle plays itself (CC0)."""

# Generated here rather than taken from elsewhere, so that its licence is plain: this
# script and the file it writes are dedicated to the public domain (CC0 1.0). Three short
# rising beeps, twice, with soft edges (no clicks): about 1.6 seconds, 16 kHz mono.
import math
import struct
import sys
import wave
from pathlib import Path

RATE = 16000
OUT = Path(__file__).resolve().parent.parent / "icecycle" / "sounds" / "take-it-off.wav"


def beep(freq: float, seconds: float, volume: float = 0.6) -> list[int]:
    n = int(RATE * seconds)
    edge = int(RATE * 0.01)
    out = []
    for i in range(n):
        ramp = min(1.0, i / edge, (n - 1 - i) / edge)
        out.append(int(32767 * volume * ramp * math.sin(2 * math.pi * freq * i / RATE)))
    return out


def silence(seconds: float) -> list[int]:
    return [0] * int(RATE * seconds)


def main() -> int:
    samples: list[int] = []
    for _ in range(2):
        for freq in (784.0, 988.0, 1175.0):  # G5, B5, D6
            samples += beep(freq, 0.16) + silence(0.06)
        samples += silence(0.3)
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    print(f"wrote {path} ({len(samples) / RATE:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
