#!/usr/bin/env bash
# Builds bench/gemm with clang-19 for this machine (as `sinter compile --cpu
# native` compiles the kernels) and runs it. Usage: bench/gemm/run.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
mkdir -p "$BUILD"
clang-19 -std=gnu11 -O3 -march=native -ffp-contract=on -fno-math-errno \
  -Icodegen/kernels -Iinclude bench/gemm/bench_gemm.c codegen/kernels/gemm.c \
  codegen/kernels/qgemm.c -lm -o "$BUILD/bench_gemm"
exec "$BUILD/bench_gemm"
