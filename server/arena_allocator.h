#pragma once
// ArenaMessageAllocator: gRPC's callback API builds each call's request and response on one protobuf Arena instead of
// the heap. Parsing a request then costs no allocation per string, sub-message and repeated field (a PNG's bytes land
// in the arena's block), and filling the response none per prediction; everything is freed at once when the call is
// done. The arena's first block lives inside the per-call holder, so a call whose messages fit in it allocates once.
//
// Threading: AllocateMessages() is called by gRPC from any thread; each holder belongs to one call.
// Ownership: gRPC owns each holder from AllocateMessages() until it calls Release(). The allocator must outlive the
// server's use of it (a service member is enough: services outlive their server's calls).

#include <array>
#include <cstddef>

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

namespace fovea::server {

template <typename Request, typename Response>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  // Room for a small request (an encoded 28x28 image or a float32 tensor of it) and its response; larger ones
  // continue in blocks the arena allocates.
  static constexpr size_t kFirstBlockBytes = size_t{8} << 10;

  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(ArenaOptions(first_block_)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions ArenaOptions(std::array<std::byte, kFirstBlockBytes>& block) {
      google::protobuf::ArenaOptions options;
      options.initial_block = reinterpret_cast<char*>(block.data());
      options.initial_block_size = block.size();
      return options;
    }

    // Declared before the arena, which uses it as its first block.
    alignas(std::max_align_t) std::array<std::byte, kFirstBlockBytes> first_block_;
    google::protobuf::Arena arena_;
  };
};

}  // namespace fovea::server
