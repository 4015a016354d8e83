// The Cephes-style exp shared by the attention variants (internal to kernels/cpu/attention*):
//
//   exp(x) = 2^n * exp(r),  n = round(x * log2(e)),  r = x - n * ln2  (|r| <= ln2 / 2)
//
// with ln2 split into kLn2Hi (9 significant bits, so n * kLn2Hi is exact for |n| <= 127) and
// kLn2Lo, and exp(r) = 1 + r + r^2 * P(r), P of degree 5 (Cephes expf's minimax coefficients).
// x is clamped to [kExpLo, kExpHi] so that n is in [-126, 127] and 2^n is a normal number built
// directly in the exponent bits. See attention.h for the error bound. Constants only: each ISA
// file writes its own code, so nothing here is compiled with one ISA's flags and run by another.
#pragma once

namespace llmrt::kernels::exp_detail {

inline constexpr float kExpLo = -87.3365447505531f;  // ln(FLT_MIN)
inline constexpr float kExpHi = 88.3762626647949f;   // 127.5 * ln2, so round(x log2 e) <= 127
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kP0 = 1.9875691500e-4f;
inline constexpr float kP1 = 1.3981999507e-3f;
inline constexpr float kP2 = 8.3334519073e-3f;
inline constexpr float kP3 = 4.1665795894e-2f;
inline constexpr float kP4 = 1.6666665459e-1f;
inline constexpr float kP5 = 5.0000001201e-1f;

}  // namespace llmrt::kernels::exp_detail
