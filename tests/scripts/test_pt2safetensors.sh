#!/usr/bin/env bash
# Tests scripts/pt2safetensors.py (YOLOv5 .pt -> safetensors) on the committed
# checkpoints in tests/fixtures/ckpt (written by scripts/make_reference_checkpoint.py
# with torch; this test needs only /usr/bin/python3 with NumPy).
# Prints "ok - name" / "FAIL - name" lines and "RESULT <passed> <failed>".
set -u
. "$(dirname "$0")/../lib.sh" || exit 1
PY=/usr/bin/python3
CONVERT=scripts/pt2safetensors.py
CHECK=tests/scripts/check_pt2safetensors.py
FIX=tests/fixtures/ckpt

if ! "$PY" -c 'import numpy' 2>/dev/null; then
    fail "$PY with NumPy is needed (apt-get install python3-numpy)"
    finish
fi

# converts NAME IN EXPECTED [converter options]: exit 0, then every tensor and
# metadata entry equals the expected file.
converts() {
    local name=$1 in=$2 expected=$3
    shift 3
    local out="$tmp/$name.safetensors"
    if ! "$PY" "$CONVERT" "$in" "$out" "$@" >"$tmp/$name.stdout" 2>"$tmp/$name.stderr"; then
        sed 's/^/  /' "$tmp/$name.stderr"
        report "$name" 1
        return
    fi
    "$PY" "$CHECK" compare "$out" "$expected" "$tmp/$name.stdout"
    report "$name" $?
}

# refuses NAME IN PATTERN: exit status 1, one clean error line on stderr that
# names the input file and matches PATTERN, no traceback, no output written.
refuses() {
    local name=$1 in=$2 pattern=$3
    local out="$tmp/$name.safetensors"
    "$PY" "$CONVERT" "$in" "$out" >"$tmp/$name.stdout" 2>"$tmp/$name.stderr"
    local rc=$? bad=0
    if [ "$rc" -ne 1 ]; then
        echo "  exit status $rc, expected 1"
        bad=1
    fi
    if ! grep -q -- "$pattern" "$tmp/$name.stderr" || ! grep -qF -- "$in" "$tmp/$name.stderr"; then
        echo "  stderr does not name '$in' and match '$pattern':"
        bad=1
    fi
    if grep -q Traceback "$tmp/$name.stderr"; then
        echo "  unhandled exception:"
        bad=1
    fi
    if [ -e "$out" ] || ls "$tmp/$name.safetensors".tmp.* >/dev/null 2>&1; then
        echo "  an output file was written"
        bad=1
    fi
    [ "$bad" -eq 0 ] || sed 's/^/    /' "$tmp/$name.stderr"
    report "$name" "$bad"
}

bad_file() {  # bad_file KIND [SRC]: path of a broken checkpoint made by the checker
    local path="$tmp/bad_$1.pt"
    "$PY" "$CHECK" make-bad "$1" "$path" ${2:+"$2"} || return 1
    echo "$path"
}

# --- real checkpoints written by ultralytics v7.0 code -----------------------
converts train_checkpoint_takes_ema "$FIX/train_tiny.pt" "$FIX/train_tiny.ema.expected.safetensors"
converts train_checkpoint_no_ema "$FIX/train_tiny.pt" "$FIX/train_tiny.model.expected.safetensors" --no-ema
converts release_checkpoint "$FIX/release_tiny.pt" "$FIX/release_tiny.expected.safetensors"
# The model definition read from the YAML file resolves to what ultralytics keeps on the model.
converts release_with_model_yaml "$FIX/release_tiny.pt" "$FIX/release_tiny.expected.safetensors" \
    --model-yaml "$FIX/yolov5-tiny.yaml"

# The archive's top-level folder may have any name (source metadata = file name, so keep it).
mkdir -p "$tmp/renamed"
if "$PY" "$CHECK" make-bad renamed "$tmp/renamed/train_tiny.pt" "$FIX/train_tiny.pt"; then
    converts any_archive_folder_name "$tmp/renamed/train_tiny.pt" "$FIX/train_tiny.ema.expected.safetensors"
else
    report any_archive_folder_name 1
fi

# Views with storage offsets, transposed and zero strides, shared storages, all dtypes.
"$PY" "$CHECK" tensors "$FIX/tensors.pt" "$FIX/tensors.expected.safetensors"
report tensor_views_and_dtypes $?

# --- malicious pickles: refused, nothing executed ----------------------------
refuses refuses_os_system "$FIX/malicious_os_system.pt" "forbidden global 'os.system'"
for kind in eval:__builtin__.eval getattr:__builtin__.getattr posix:posix.system \
            stack_global:subprocess.Popen inst:os.system torch_hub:torch.hub.load; do
    path=$(bad_file "${kind%%:*}") || { report "refuses_${kind%%:*}" 1; continue; }
    refuses "refuses_${kind%%:*}" "$path" "forbidden global '${kind#*:}'"
done

# --- broken files: clean errors ----------------------------------------------
printf 'this is not a checkpoint\n' >"$tmp/not_a_zip.pt"
refuses not_a_zip "$tmp/not_a_zip.pt" "not a zip archive"
size=$(wc -c <"$FIX/train_tiny.pt")
head -c $((size / 2)) "$FIX/train_tiny.pt" >"$tmp/truncated.pt"
refuses truncated_file "$tmp/truncated.pt" "not a zip archive"
refuses missing_file "$tmp/does_not_exist.pt" "no such file"
path=$(bad_file no_pkl) && refuses missing_data_pkl "$path" "no data.pkl" || report missing_data_pkl 1
path=$(bad_file missing_storage "$FIX/train_tiny.pt") &&
    refuses missing_storage "$path" "storage 'train_tiny/data/0' .* missing" || report missing_storage 1
path=$(bad_file truncated_pkl "$FIX/train_tiny.pt") &&
    refuses truncated_data_pkl "$path" "cannot unpickle" || report truncated_data_pkl 1
# The hand-built tensor pickle below loads when it is valid (so the two refusals after it
# come from the defect each one plants).
path=$(bad_file hand_built_tensor) &&
    "$PY" -B -c 'import sys; sys.path.insert(0, "scripts"); import pt2safetensors as p
sys.exit(p.load_checkpoint(sys.argv[1]).obj["model"].tolist() != [0.0] * 4)' "$path"
report hand_built_tensor_loads $?
path=$(bad_file view_out_of_bounds) &&
    refuses view_out_of_bounds "$path" "runs past its storage" || report view_out_of_bounds 1
path=$(bad_file short_storage) &&
    refuses storage_shorter_than_numel "$path" "storage 'archive/data/0' has 16 bytes" ||
    report storage_shorter_than_numel 1
path=$(bad_file no_model) && refuses no_model_or_ema "$path" "no 'model' or 'ema'" || report no_model_or_ema 1

finish
