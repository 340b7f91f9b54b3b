#!/usr/bin/env bash
# Makes sure the Debian packages yolov5c builds against are present.
# Installs the missing ones when run as root with apt-get available; otherwise
# prints the exact command to run and fails.
set -eu
# header that proves the package is installed : Debian package
need="/usr/include/yaml.h:libyaml-dev
/usr/include/cjson/cJSON.h:libcjson-dev
/usr/include/stb/stb_image.h:libstb-dev
/usr/include/jpeglib.h:libjpeg62-turbo-dev
/usr/lib/python3/dist-packages/numpy:python3-numpy"
# (python3-numpy is for scripts/pt2safetensors.py and its test; the C code does not need it.)
missing=""
for pair in $need; do
    header=${pair%%:*}
    pkg=${pair##*:}
    [ -e "$header" ] || missing="$missing $pkg"
done
# OpenMP comes with gcc (libgomp); check the compiler can use it.
cc=${CC:-cc}
if ! printf 'int main(void){return 0;}\n' | $cc -fopenmp -x c - -o /dev/null 2>/dev/null; then
    missing="$missing libgomp1"
fi
[ -z "$missing" ] && exit 0
echo "yolov5c: missing build dependencies:$missing" >&2
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "yolov5c: installing them with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    # A stale or empty package list makes install fail; refresh it first.
    apt-get update -q >&2 || true
    apt-get install -y -q --no-install-recommends $missing >&2
    exit 0
fi
echo "yolov5c: run:  sudo apt-get install$missing" >&2
exit 1
