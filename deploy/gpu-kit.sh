#!/usr/bin/env bash
# Packs what deploy/gpu-check.sh needs on a CUDA host that has PyTorch but no gRPC, Abseil or
# SQLite development files (the hosts seen so far: Ubuntu 24.04 with the PyTorch wheel):
#   bin/     hpo, hpo-coordinator, hpo-worker, hpo-task as built here (stripped)
#   lib/     the shared libraries they load, but glibc's and the C++ runtime's (the host's are
#            the same or newer)
#   static/  libhpo_tasks.a, libhpo_core.a, libhpo_proto.a (debug info stripped), which
#            hpo-task-train is linked against there
#   include/ Abseil's, Protobuf's, nlohmann's and zlib's headers and the generated hpo.pb.h, so
#            that the trainer compiles there against these libraries, not the host's
#   data/fashion-mnist/  the training split (the host has no dataset-fashion-mnist)
# and packs all of it into KIT_DIR.tar.xz (about 36 MB, most of it the images), which
# deploy/gpu-check.sh takes as well as the folder. Run after `make`, from the repository root;
# both must be git-ignored (gpu-kit and gpu-kit.tar.xz are):
#   deploy/gpu-kit.sh [BUILD_DIR] [KIT_DIR]        (defaults: build, gpu-kit)
set -euo pipefail
build=${1:-build}
kit=${2:-gpu-kit}
rm -rf "$kit"
mkdir -p "$kit/bin" "$kit/lib" "$kit/static" "$kit/include/hpo/v1"
for b in hpo hpo-coordinator hpo-worker hpo-task; do
  strip -o "$kit/bin/$b" "$build/bin/$b"
done
for b in "$kit"/bin/*; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u |
  grep -vE '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+)\.so' |
  while read -r lib; do cp -L "$lib" "$kit/lib/"; done
for a in tasks/libhpo_tasks.a core/libhpo_core.a proto/libhpo_proto.a; do
  strip --strip-debug -o "$kit/static/$(basename "$a")" "$build/$a"
done
cp -r /usr/include/absl /usr/include/nlohmann "$kit/include/"
mkdir -p "$kit/include/google" && cp -r /usr/include/google/protobuf "$kit/include/google/"
cp /usr/include/zlib.h /usr/include/zconf.h "$kit/include/"
cp "$build"/proto/hpo/v1/hpo.pb.h "$kit/include/hpo/v1/"
data=${HPO_FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
mkdir -p "$kit/data/fashion-mnist"
cp "$data"/train-images-idx3-ubyte* "$data"/train-labels-idx1-ubyte* "$kit/data/fashion-mnist/"
tar -cJf "$kit.tar.xz" -C "$(dirname "$kit")" "$(basename "$kit")"
du -sh "$kit" "$kit.tar.xz"
