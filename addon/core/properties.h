// libblkio's property machinery: typed, named values whose access depends on
// the instance state. Drivers bind their fields; the table enforces the rules
// and the errno conventions (ENOENT, ENOTTY, EACCES, ENODEV, EBUSY, EINVAL).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace blkio {

enum class State { Created, Connected, Started };

enum class PropType { Bool, Int, Uint64, Str };

enum class Access {
  Constant,     // readable in every state, never settable (driver, can-add-queues)
  CreatedRW,    // settable before connect, readable always (path, fd, direct, read-only)
  ConnectedRO,  // readable once connected (capacity and the other device limits)
  ConnectedRW,  // settable between connect and start, readable once connected (num-queues)
};

struct PropValue {
  bool b = false;
  int32_t i = 0;
  uint64_t u = 0;
  std::string s;
};

class PropertyTable {
 public:
  using Getter = std::function<void(PropValue*)>;
  // Validates and stores; returns 0 or fail(...).
  using Setter = std::function<int(const PropValue&)>;

  void add(const char* name, PropType type, Access access, Getter get, Setter set = {});

  // Binds a field directly; `check` may reject a value before it is stored.
  void bind(const char* name, Access access, bool* field);
  void bind(const char* name, Access access, int32_t* field, std::function<int(int32_t)> check = {});
  void bind(const char* name, Access access, uint64_t* field);
  void bind(const char* name, Access access, std::string* field);

  // `as` is the caller's accessor type; Str works on every property
  // (formatting or parsing the value), other mismatches give ENOTTY.
  int get(State state, const char* name, PropType as, PropValue* out) const;
  int set(State state, const char* name, PropType as, const PropValue& value);

 private:
  struct Entry {
    std::string name;
    PropType type;
    Access access;
    Getter get;
    Setter set;
  };
  const Entry* find(const char* name) const;
  std::vector<Entry> entries_;
};

}  // namespace blkio
