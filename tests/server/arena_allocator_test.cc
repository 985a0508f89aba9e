#include "server/arena_allocator.h"

#include <gtest/gtest.h>

#include <string>

#include "fovea/v1/inference.pb.h"

namespace fovea::server {
namespace {

using ClassifyAllocator = ArenaMessageAllocator<v1::ClassifyRequest, v1::ClassifyResponse>;

TEST(ArenaMessageAllocatorTest, RequestAndResponseShareOneArenaAndHoldMessagesLargerThanItsFirstBlock) {
  ClassifyAllocator allocator;
  grpc::MessageHolder<v1::ClassifyRequest, v1::ClassifyResponse>* holder = allocator.AllocateMessages();
  ASSERT_NE(holder->request()->GetArena(), nullptr);
  EXPECT_EQ(holder->request()->GetArena(), holder->response()->GetArena());

  v1::ClassifyRequest sent;
  sent.set_model_name("fashion-mnist");
  const std::string large(size_t{1} << 20, 'x');  // far beyond the first block
  sent.add_images()->set_encoded(large);
  ASSERT_TRUE(holder->request()->ParseFromString(sent.SerializeAsString()));
  EXPECT_EQ(holder->request()->images(0).encoded(), large);
  holder->response()->add_results()->add_predictions()->set_label("Ankle boot");
  EXPECT_EQ(holder->response()->results(0).predictions(0).label(), "Ankle boot");
  holder->Release();
}

TEST(ArenaMessageAllocatorTest, EveryCallGetsItsOwnMessages) {
  ClassifyAllocator allocator;
  auto* first = allocator.AllocateMessages();
  auto* second = allocator.AllocateMessages();
  EXPECT_NE(first->request(), second->request());
  EXPECT_NE(first->request()->GetArena(), second->request()->GetArena());
  first->Release();
  second->Release();
}

}  // namespace
}  // namespace fovea::server
