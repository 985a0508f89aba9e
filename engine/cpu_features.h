#pragma once
// What the CPU oneDNN runs on can do, where it changes which primitives the engine may use. Asked once per plan.

namespace fovea::engine {

// True when the CPU multiplies 8-bit integers with a 32-bit accumulator in one instruction (AVX-512 VNNI, AVX-VNNI,
// AMX). Without it oneDNN 2.6 sums pairs of u8·s8 products in 16 bits, which saturates on real weights and inputs, so
// int8 convolutions would not compute what the model says; the engine then runs them in float32 instead.
bool CpuHasInt8DotProduct();

// True when oneDNN 2.6 has bf16 convolutions and inner products on this CPU (AVX-512 and later). Elsewhere a bf16
// precision setting runs in float32: the same results within bf16's tolerance, at float32's speed.
bool CpuSupportsBf16();

}  // namespace fovea::engine
