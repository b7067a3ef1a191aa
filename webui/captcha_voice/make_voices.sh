#!/bin/sh
# Regenerates the Turkish digit recordings used by the audio captcha (webui/captcha.py).
# Needs Debian's espeak-ng and sox. The captcha package mixes these 8 kHz, 8-bit mono WAV files with noise.
set -eu
cd "$(dirname "$0")"
set -- 0:sıfır 1:bir 2:iki 3:üç 4:dört 5:beş 6:altı 7:yedi 8:sekiz 9:dokuz
tmp=$(mktemp -d)
for pair in "$@"; do
  digit=${pair%%:*}; word=${pair#*:}
  mkdir -p "$digit"
  for voice in tr tr+f3; do
    espeak-ng -v "$voice" -s 130 -w "$tmp/raw.wav" "$word"
    sox "$tmp/raw.wav" -r 8000 -c 1 -b 8 -e unsigned-integer "$digit/$(echo "$voice" | tr + -).wav" silence 1 0.02 1%
  done
done
rm -rf "$tmp"
