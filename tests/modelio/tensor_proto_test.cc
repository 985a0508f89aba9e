// TensorProto ⇄ Tensor: both storage forms read, sizes validated before allocation, the writer round-trips.

#include "modelio/tensor_proto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fovea::modelio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kLimit = 1 << 20;

TEST(TensorProtoTest, RawFloatsRoundTrip) {
  const auto original = engine::Tensor::FromFloats({2, 2}, std::vector<float>{1.0f, -2.5f, 3.0f, 0.125f});
  const onnx::TensorProto proto = TensorToProto(original, "w");
  EXPECT_EQ(proto.name(), "w");
  EXPECT_EQ(proto.data_type(), onnx::TensorProto::FLOAT);
  auto read = TensorFromProto(proto, kLimit);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->shape(), (engine::Shape{2, 2}));
  EXPECT_THAT(read->floats(), ElementsAre(1.0f, -2.5f, 3.0f, 0.125f));
}

TEST(TensorProtoTest, Int64ScalarRoundTrips) {
  auto read = TensorFromProto(TensorToProto(engine::Tensor::FromInt64s({}, std::vector<int64_t>{-7}), "k"), kLimit);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->dtype(), engine::DataType::kInt64);
  EXPECT_EQ(read->rank(), 0);
  EXPECT_THAT(read->int64s(), ElementsAre(-7));
}

TEST(TensorProtoTest, TypedFieldsAreRead) {
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::INT64);
  proto.add_dims(3);
  for (int64_t v : {4, 5, 6}) proto.add_int64_data(v);
  auto read = TensorFromProto(proto, kLimit);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_THAT(read->int64s(), ElementsAre(4, 5, 6));
}

TEST(TensorProtoTest, QuantizedTensorsReadFromBothForms) {
  onnx::TensorProto typed;
  typed.set_data_type(onnx::TensorProto::INT8);
  typed.add_dims(3);
  for (int32_t v : {-128, 0, 127}) typed.add_int32_data(v);
  auto read = TensorFromProto(typed, kLimit);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->dtype(), engine::DataType::kInt8);
  EXPECT_THAT(std::vector<int8_t>(read->data<int8_t>(), read->data<int8_t>() + 3), ElementsAre(-128, 0, 127));

  engine::Tensor bytes(engine::DataType::kUint8, {2});
  bytes.data<uint8_t>()[0] = 7;
  bytes.data<uint8_t>()[1] = 255;
  const onnx::TensorProto raw = TensorToProto(bytes, "z");
  EXPECT_EQ(raw.data_type(), onnx::TensorProto::UINT8);
  auto round_trip = TensorFromProto(raw, kLimit);
  ASSERT_TRUE(round_trip.ok()) << round_trip.status().ToString();
  EXPECT_THAT(std::vector<uint8_t>(round_trip->data<uint8_t>(), round_trip->data<uint8_t>() + 2), ElementsAre(7, 255));
}

TEST(TensorProtoTest, TypedFieldWithWrongCountIsAnError) {
  onnx::TensorProto proto;
  proto.set_name("b");
  proto.set_data_type(onnx::TensorProto::FLOAT);
  proto.add_dims(4);
  proto.add_float_data(1.0f);
  auto read = TensorFromProto(proto, kLimit);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("tensor 'b' holds 1 values but its dims [4] need 4"));
}

TEST(TensorProtoTest, ExternalDataIsUnimplemented) {
  onnx::TensorProto proto = TensorToProto(engine::Tensor(engine::DataType::kFloat32, {2}), "big");
  proto.set_data_location(onnx::TensorProto::EXTERNAL);
  auto read = TensorFromProto(proto, kLimit);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(read.status().message(), HasSubstr("external data"));
}

TEST(TensorProtoTest, OtherDtypesAreNamed) {
  onnx::TensorProto proto;
  proto.set_data_type(onnx::TensorProto::DOUBLE);
  auto read = TensorFromProto(proto, kLimit);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("DOUBLE"));
}

TEST(TensorProtoTest, ElementCountIsCheckedWithoutOverflow) {
  EXPECT_EQ(*CheckedElementCount({2, 3, 4}, kLimit, "t"), 24);
  EXPECT_EQ(*CheckedElementCount({}, kLimit, "t"), 1);
  EXPECT_EQ(*CheckedElementCount({int64_t{1} << 62, 0}, kLimit, "t"), 0);
  EXPECT_EQ(CheckedElementCount({int64_t{1} << 40, int64_t{1} << 40}, kLimit, "t").status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(CheckedElementCount({0, -1}, kLimit, "t").status().code(), StatusCode::kInvalidArgument);
}

// Regression (onnx_import_fuzz): an empty initializer whose other dims multiply past int64 made the tensor's element
// count overflow (undefined behaviour, reported by UBSan) before the zero dimension was reached.
TEST(TensorProtoTest, EmptyTensorWithHugeOtherDimsHasNoElements) {
  onnx::TensorProto proto;
  proto.set_name("empty");
  proto.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t dim : {int64_t{1481094092940789600}, int64_t{5890}, int64_t{0}}) proto.add_dims(dim);
  const auto tensor = TensorFromProto(proto, kLimit);
  ASSERT_TRUE(tensor.ok()) << tensor.status().ToString();
  EXPECT_EQ(tensor->num_elements(), 0);
  EXPECT_EQ(engine::NumElements({int64_t{1} << 62, 4, 0}), 0);
}

}  // namespace
}  // namespace fovea::modelio
