#!/usr/bin/env bash
# airlock benchmarks: airlock against standard tools on the same data, in the
# same run, medians of several runs, peak RSS from GNU time.
#
#   benches/bench.sh [--size-gib N] [--files N] [--runs N] [--dir DIR] [--only import,verify,checkout,export,bundle,hostile]
#
# Defaults: 4 GiB in 4 files, 3 runs, a folder under ${TMPDIR:-/tmp}.
# Needs: cargo, openssl, python3, GNU time (/usr/bin/time), GNU tar, coreutils.
# The page cache is warmed right before every timing (cat > /dev/null), so
# each tool reads from memory; writes are measured as the tools do them
# (airlock fsyncs every blob; cp does not, so `cp -r && sync` is shown too).
set -euo pipefail

SIZE_GIB=4
FILES=4
RUNS=3
DIR=""
ONLY="import,verify,checkout,export,bundle,hostile"
while [ $# -gt 0 ]; do
    case "$1" in
        --only) ONLY=$2; shift 2 ;;
        --size-gib) SIZE_GIB=$2; shift 2 ;;
        --files) FILES=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --dir) DIR=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
cargo build --release --quiet
AIRLOCK="${CARGO_TARGET_DIR:-$PWD/target}/release/airlock"
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }

if [ -z "$DIR" ]; then DIR=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench.XXXXXX"); CLEAN=1; else mkdir -p "$DIR"; CLEAN=0; fi
cleanup() { chmod -R u+w "$DIR" 2>/dev/null || true; [ "$CLEAN" = 1 ] && rm -rf "$DIR"; }
trap cleanup EXIT

MODEL="$DIR/model"
PER_FILE_MIB=$(( SIZE_GIB * 1024 / FILES ))
mkdir -p "$MODEL"
echo "# making $FILES files of $PER_FILE_MIB MiB in $MODEL"
for i in $(seq 1 "$FILES"); do
    f="$MODEL/model-$(printf %05d "$i")-of-$(printf %05d "$FILES").safetensors"
    [ -f "$f" ] && continue
    bytes=$(( PER_FILE_MIB * 1024 * 1024 ))
    # A valid safetensors file: one U8 tensor over pseudo-random bytes
    # (AES-CTR keystream, generated at memory speed).
    python3 - "$f" "$bytes" <<'PY'
import json, struct, sys
path, total = sys.argv[1], int(sys.argv[2])
n = total - 8 - 128
header = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
header += b" " * (128 - len(header))
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header)
PY
    openssl enc -aes-128-ctr -pass "pass:airlock-bench-$i" -nosalt -pbkdf2 </dev/zero 2>/dev/null \
        | head -c "$(( bytes - 136 ))" >>"$f" || true  # openssl ends on SIGPIPE
    [ "$(stat -c %s "$f")" = "$bytes" ] || { echo "could not make $f" >&2; exit 1; }
done
echo '{"model_type":"bench"}' >"$MODEL/config.json"

warm() { cat "$@" >/dev/null; }
warm_tree() { find "$1" -type f -exec cat {} + >/dev/null; }

# time_cmd LABEL CMD...: runs CMD, appends "seconds max_rss_kib" to $RESULTS/LABEL
RESULTS="$DIR/results"; rm -rf "$RESULTS"; mkdir -p "$RESULTS"  # this run's figures only
time_cmd() {
    local label=$1; shift
    "$TIME" -f "%e %M" -o "$RESULTS/.last" "$@" >/dev/null 2>"$RESULTS/.stderr" || {
        echo "command failed: $*" >&2; cat "$RESULTS/.stderr" >&2; exit 1; }
    tail -n 1 "$RESULTS/.last" >>"$RESULTS/$label"
}
# time_refusal LABEL CMD...: like time_cmd, for a command that must refuse (exit 3)
time_refusal() {
    local label=$1; shift
    local rc=0
    "$TIME" -f "%e %M" -o "$RESULTS/.last" "$@" >/dev/null 2>"$RESULTS/.stderr" || rc=$?
    [ "$rc" = 3 ] || { echo "expected a refusal (exit 3), got $rc: $*" >&2; cat "$RESULTS/.stderr" >&2; exit 1; }
    tail -n 1 "$RESULTS/.last" >>"$RESULTS/$label"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
secs() { cut -d' ' -f1 "$RESULTS/$1" | median; }
rss_mib() { cut -d' ' -f2 "$RESULTS/$1" | sort -n | tail -n 1 | awk '{printf "%.1f", $1/1024}'; }

half=$(( (FILES + 1) / 2 ))
mapfile -t SHARDS < <(find "$MODEL" -name '*.safetensors' | sort)
FIRST=("${SHARDS[@]:0:$half}")
SECOND=("${SHARDS[@]:$half}")
openssl_pair() { openssl dgst -sha256 "${FIRST[@]}" >/dev/null & openssl dgst -sha256 "${SECOND[@]}" >/dev/null & wait; }
export -f openssl_pair 2>/dev/null || true

want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
HOME_DIR="$DIR/home"
ISO_DIR="$DIR/isolated"
KEYS="$DIR/keys"
if [ ! -f "$KEYS/approver.key" ]; then
    "$AIRLOCK" --home "$DIR/keyhome" keys generate --out "$KEYS/approver" --name approver >/dev/null
    "$AIRLOCK" --home "$DIR/keyhome" keys generate --out "$KEYS/exporter" --name exporter >/dev/null
fi
for run in $(seq 1 "$RUNS"); do
    echo "# run $run of $RUNS"
    # import vs cp -r (always: the later groups need the imported home).
    # The order alternates between runs so neither tool always inherits the
    # other's writeback.
    bench_cp() {
        chmod -R u+w "$DIR/copy" 2>/dev/null || true
        rm -rf "$DIR/copy"; sync
        warm_tree "$MODEL"
        time_cmd cp cp -r "$MODEL" "$DIR/copy"
        rm -rf "$DIR/copy"; sync
        warm_tree "$MODEL"
        time_cmd cp_sync sh -c 'cp -r "$1" "$2" && sync' sh "$MODEL" "$DIR/copy"
        rm -rf "$DIR/copy"; sync
    }
    bench_import() {
        chmod -R u+w "$HOME_DIR" 2>/dev/null || true
        rm -rf "$HOME_DIR"; sync
        warm_tree "$MODEL"
        time_cmd import "$AIRLOCK" --home "$HOME_DIR" --no-progress import "$MODEL" --name bench/model
        sync
    }
    if [ $((run % 2)) = 1 ]; then bench_import; bench_cp; else bench_cp; bench_import; fi
    # deep verify vs two parallel openssl processes
    if want verify; then
    warm_tree "$HOME_DIR/store"
    time_cmd verify "$AIRLOCK" --home "$HOME_DIR" --no-progress verify --deep --all
    warm "${SHARDS[@]}"
    time_cmd openssl bash -c "$(declare -p FIRST SECOND); $(declare -f openssl_pair); openssl_pair"
    # the cost of the safety inspection (headers and opcode streams only)
    warm_tree "$HOME_DIR/store"
    time_cmd inspect "$AIRLOCK" --home "$HOME_DIR" inspect bench/model
    fi
    # checkout vs the same cp -r of the model folder (a verified copy)
    if want checkout; then
    chmod -R u+w "$DIR/co" 2>/dev/null || true
    rm -rf "$DIR/co"; sync
    warm_tree "$HOME_DIR/store"
    time_cmd checkout "$AIRLOCK" --home "$HOME_DIR" --no-progress checkout bench/model "$DIR/co"
    chmod -R u+w "$DIR/co"; rm -rf "$DIR/co"; sync
    fi
    # export vs tar cf
    if want export || want bundle; then
    "$AIRLOCK" --home "$HOME_DIR" --no-progress sign bench/model --key "$KEYS/approver.key" >/dev/null
    rm -f "$DIR/bundle.airlock" "$DIR/ref.tar"; sync
    warm_tree "$HOME_DIR/store"
    time_cmd export "$AIRLOCK" --home "$HOME_DIR" --no-progress export bench/model --key "$KEYS/exporter.key" --out "$DIR/bundle.airlock"
    sync
    warm_tree "$MODEL"
    time_cmd tar_cf tar cf "$DIR/ref.tar" -C "$MODEL" .
    sync
    fi
    # bundle import vs tar xf
    if want bundle; then
    chmod -R u+w "$ISO_DIR" "$DIR/xf" 2>/dev/null || true
    rm -rf "$ISO_DIR" "$DIR/xf"; mkdir -p "$DIR/xf"
    "$AIRLOCK" --home "$ISO_DIR" -q trust add "$KEYS/exporter.pub" --name exporter --role exporter >/dev/null
    "$AIRLOCK" --home "$ISO_DIR" -q trust add "$KEYS/approver.pub" --name approver --role approver >/dev/null
    sync
    warm "$DIR/bundle.airlock"
    time_cmd bundle_import "$AIRLOCK" --home "$ISO_DIR" --no-progress import "$DIR/bundle.airlock"
    sync
    warm "$DIR/ref.tar"
    time_cmd tar_xf tar xf "$DIR/ref.tar" -C "$DIR/xf"
    rm -rf "$DIR/xf"; mkdir -p "$DIR/xf"; sync
    warm "$DIR/ref.tar"
    time_cmd tar_xf_sync sh -c 'tar xf "$1" -C "$2" && sync' sh "$DIR/ref.tar" "$DIR/xf"
    sync
    fi
    # refusing the worst hostile index (16 MiB index, index.sig full of
    # bogus signatures) against refusing an honest one-signature bundle by
    # an untrusted exporter: the work before trust must be bounded.
    if want hostile; then
    HOSTILE_HOME="$DIR/hostile-home"
    if [ ! -f "$DIR/hostile.airlock" ]; then
        "$AIRLOCK" --home "$DIR/keyhome" keys generate --out "$KEYS/stranger" --name stranger >/dev/null
        python3 - "$DIR/hostile.airlock" <<'PY'
import base64, io, json, os, sys, tarfile
index = json.dumps({"format": "airlock-bundle/v1", "bundle_id": "00" * 16}).encode()
index += b" " * ((16 << 20) - len(index))           # exactly the 16 MiB cap
sigs, body = [], b""
while True:
    s = {"keyid": os.urandom(32).hex(), "sig": base64.b64encode(os.urandom(64)).decode()}
    trial = json.dumps({"payloadType": "application/vnd.airlock.bundle-index.v1+json",
                        "signatures": sigs + [s]}).encode()
    if len(trial) > (64 << 10):
        break
    sigs.append(s); body = trial
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    for name, data in (("index.json", index), ("index.sig", body)):
        i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
        t.addfile(i, io.BytesIO(data))
print(f"# hostile bundle: 16 MiB index, {len(sigs)} bogus signatures", file=sys.stderr)
PY
    fi
    rm -rf "$HOSTILE_HOME"
    "$AIRLOCK" --home "$HOSTILE_HOME" -q trust add "$KEYS/exporter.pub" --name exporter --role exporter >/dev/null
    if [ ! -f "$DIR/stranger.airlock" ]; then
        "$AIRLOCK" --home "$HOME_DIR" --no-progress export bench/model --key "$KEYS/stranger.key" --out "$DIR/stranger.airlock" >/dev/null
    fi
    warm "$DIR/hostile.airlock"
    time_refusal hostile "$AIRLOCK" --home "$HOSTILE_HOME" --no-progress import "$DIR/hostile.airlock"
    warm "$DIR/stranger.airlock"
    time_refusal honest_refusal "$AIRLOCK" --home "$HOSTILE_HOME" --no-progress import "$DIR/stranger.airlock"
    fi
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
echo
echo "data: $SIZE_GIB GiB in $FILES files; $RUNS runs; medians; cores: $(nproc)"
printf '%-34s %9s %10s   %-28s %9s %10s %7s\n' "airlock" "seconds" "peak RSS" "reference" "seconds" "peak RSS" "ratio"
row() { # label ref_label airlock_text ref_text
    [ -s "$RESULTS/$1" ] && [ -s "$RESULTS/$2" ] || return 0
    printf '%-34s %9s %7s MiB   %-28s %9s %7s MiB %7s\n' "$3" "$(secs "$1")" "$(rss_mib "$1")" "$4" "$(secs "$2")" "$(rss_mib "$2")" "$(ratio "$(secs "$1")" "$(secs "$2")")"
}
row verify openssl "verify --deep" "2x openssl dgst -sha256"
row inspect verify "inspect (safety checks)" "verify --deep (hashing)"
row import cp "import" "cp -r"
row import cp_sync "import" "cp -r && sync"
row checkout cp "checkout" "cp -r"
row checkout cp_sync "checkout" "cp -r && sync"
row export tar_cf "export" "tar cf"
row bundle_import tar_xf "import BUNDLE" "tar xf"
row bundle_import tar_xf_sync "import BUNDLE" "tar xf && sync"
row hostile honest_refusal "refuse the worst hostile index" "refuse a 1-signature bundle"
if [ -s "$RESULTS/hostile" ]; then
    echo "goal: refusing the worst hostile index <= 0.2 s: $(secs hostile) s"
fi
if [ -s "$RESULTS/bundle_import" ] && [ -s "$RESULTS/tar_xf" ]; then
    echo "goal: import BUNDLE <= 1.15x tar xf: $(ratio "$(secs bundle_import)" "$(secs tar_xf)")x"
fi
