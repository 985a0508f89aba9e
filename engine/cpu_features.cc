#include "engine/cpu_features.h"

#include <oneapi/dnnl/dnnl.hpp>

namespace fovea::engine {

bool CpuHasInt8DotProduct() {
  using Isa = dnnl::cpu_isa;
  const Isa isa = dnnl::get_effective_cpu_isa();
  return isa == Isa::avx2_vnni || isa == Isa::avx512_core_vnni || isa == Isa::avx512_core_bf16 ||
         isa == Isa::avx512_core_amx;
}

bool CpuSupportsBf16() {
  using Isa = dnnl::cpu_isa;
  const Isa isa = dnnl::get_effective_cpu_isa();
  return isa == Isa::avx512_core || isa == Isa::avx512_core_vnni || isa == Isa::avx512_core_bf16 ||
         isa == Isa::avx512_core_amx;
}

}  // namespace fovea::engine
