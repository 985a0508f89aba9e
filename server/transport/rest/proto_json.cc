#include "server/transport/rest/proto_json.h"

#include <nlohmann/json.hpp>

namespace fovea::server {
namespace {

namespace pb = google::protobuf;
using Json = nlohmann::ordered_json;

Json MessageJson(const pb::Message& message);

// Element `index` of repeated field `field`, or its single value when `index` is -1.
Json ValueJson(const pb::Message& message, const pb::FieldDescriptor& field, int index) {
  const pb::Reflection& r = *message.GetReflection();
  const bool repeated = index >= 0;
  switch (field.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return repeated ? r.GetRepeatedInt32(message, &field, index) : r.GetInt32(message, &field);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return repeated ? r.GetRepeatedInt64(message, &field, index) : r.GetInt64(message, &field);
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return repeated ? r.GetRepeatedUInt32(message, &field, index) : r.GetUInt32(message, &field);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return repeated ? r.GetRepeatedUInt64(message, &field, index) : r.GetUInt64(message, &field);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return repeated ? r.GetRepeatedDouble(message, &field, index) : r.GetDouble(message, &field);
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return repeated ? r.GetRepeatedFloat(message, &field, index) : r.GetFloat(message, &field);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return repeated ? r.GetRepeatedBool(message, &field, index) : r.GetBool(message, &field);
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return (repeated ? r.GetRepeatedEnum(message, &field, index) : r.GetEnum(message, &field))->name();
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return repeated ? r.GetRepeatedString(message, &field, index) : r.GetString(message, &field);
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageJson(repeated ? r.GetRepeatedMessage(message, &field, index) : r.GetMessage(message, &field));
  }
  return nullptr;
}

// A map field: its entries are messages with a `key` (field 1) and a `value` (field 2).
Json MapJson(const pb::Message& message, const pb::FieldDescriptor& field) {
  const pb::Reflection& r = *message.GetReflection();
  Json object = Json::object();
  for (int i = 0; i < r.FieldSize(message, &field); ++i) {
    const pb::Message& entry = r.GetRepeatedMessage(message, &field, i);
    const Json key = ValueJson(entry, *entry.GetDescriptor()->field(0), -1);
    object[key.is_string() ? key.get<std::string>() : key.dump()] =
        ValueJson(entry, *entry.GetDescriptor()->field(1), -1);
  }
  return object;
}

Json MessageJson(const pb::Message& message) {
  const pb::Descriptor& descriptor = *message.GetDescriptor();
  const pb::Reflection& r = *message.GetReflection();
  Json object = Json::object();
  for (int f = 0; f < descriptor.field_count(); ++f) {
    const pb::FieldDescriptor& field = *descriptor.field(f);
    if (field.is_map()) {
      object[field.name()] = MapJson(message, field);
    } else if (field.is_repeated()) {
      Json array = Json::array();
      for (int i = 0; i < r.FieldSize(message, &field); ++i) array.push_back(ValueJson(message, field, i));
      object[field.name()] = std::move(array);
    } else if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE || field.real_containing_oneof() != nullptr) {
      if (r.HasField(message, &field)) object[field.name()] = ValueJson(message, field, -1);
    } else {
      object[field.name()] = ValueJson(message, field, -1);
    }
  }
  return object;
}

}  // namespace

std::string ProtoToJson(const pb::Message& message) {
  // Strings are the server's own (names, reasons), but a file name in a reason need not be UTF-8.
  return MessageJson(message).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace fovea::server
