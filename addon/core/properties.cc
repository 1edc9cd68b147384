#include "properties.h"

#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "errors.h"

namespace blkio {

namespace {

const char* type_noun(PropType t) {
  switch (t) {
    case PropType::Bool: return "a bool";
    case PropType::Int: return "an int";
    case PropType::Uint64: return "an unsigned 64-bit integer";
    case PropType::Str: return "a string";
  }
  return "?";
}

const char* state_name(State s) {
  switch (s) {
    case State::Created: return "created";
    case State::Connected: return "connected";
    case State::Started: return "started";
  }
  return "?";
}

std::string format_value(PropType t, const PropValue& v) {
  switch (t) {
    case PropType::Bool: return v.b ? "true" : "false";
    case PropType::Int: return std::to_string(v.i);
    case PropType::Uint64: return std::to_string(v.u);
    case PropType::Str: return v.s;
  }
  return {};
}

// libblkio parses numbers as plain decimal: an optional '-' for signed
// types, then digits. No spaces, '+' or base prefixes, which strtoll would
// otherwise accept (" 2", "+2").
bool plain_decimal(const std::string& text, bool is_signed) {
  size_t i = is_signed && !text.empty() && text[0] == '-' ? 1 : 0;
  if (i == text.size()) return false;
  for (; i < text.size(); i++)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

int parse_value(const char* name, PropType t, const std::string& text, PropValue* out) {
  errno = 0;
  switch (t) {
    case PropType::Bool:
      if (text == "true") out->b = true;
      else if (text == "false") out->b = false;
      else return fail(EINVAL, "Value of property '%s' must be \"true\" or \"false\"", name);
      return 0;
    case PropType::Int: {
      long long v = plain_decimal(text, true) ? strtoll(text.c_str(), nullptr, 10) : 0;
      if (!plain_decimal(text, true) || errno || v < INT32_MIN || v > INT32_MAX)
        return fail(EINVAL, "Value of property '%s' must be a 32-bit decimal integer, got \"%s\"", name,
                    text.c_str());
      out->i = static_cast<int32_t>(v);
      return 0;
    }
    case PropType::Uint64: {
      unsigned long long v = plain_decimal(text, false) ? strtoull(text.c_str(), nullptr, 10) : 0;
      if (!plain_decimal(text, false) || errno)
        return fail(EINVAL, "Value of property '%s' must be an unsigned 64-bit decimal integer, got \"%s\"", name,
                    text.c_str());
      out->u = v;
      return 0;
    }
    case PropType::Str:
      out->s = text;
      return 0;
  }
  return fail(EINVAL, "bad property type");
}

}  // namespace

void PropertyTable::add(const char* name, PropType type, Access access, Getter get, Setter set) {
  entries_.push_back(Entry{name, type, access, std::move(get), std::move(set)});
}

void PropertyTable::bind(const char* name, Access access, bool* field) {
  add(name, PropType::Bool, access, [field](PropValue* v) { v->b = *field; },
      [field](const PropValue& v) { *field = v.b; return 0; });
}

void PropertyTable::bind(const char* name, Access access, int32_t* field, std::function<int(int32_t)> check) {
  add(name, PropType::Int, access, [field](PropValue* v) { v->i = *field; },
      [field, check](const PropValue& v) {
        if (check) {
          int r = check(v.i);
          if (r < 0) return r;
        }
        *field = v.i;
        return 0;
      });
}

void PropertyTable::bind(const char* name, Access access, uint64_t* field) {
  add(name, PropType::Uint64, access, [field](PropValue* v) { v->u = *field; },
      [field](const PropValue& v) { *field = v.u; return 0; });
}

void PropertyTable::bind(const char* name, Access access, std::string* field) {
  add(name, PropType::Str, access, [field](PropValue* v) { v->s = *field; },
      [field](const PropValue& v) { *field = v.s; return 0; });
}

const PropertyTable::Entry* PropertyTable::find(const char* name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

int PropertyTable::get(State state, const char* name, PropType as, PropValue* out) const {
  const Entry* e = find(name);
  if (!e) return fail(ENOENT, "Unknown property name '%s'", name);
  if (as != e->type && as != PropType::Str)
    return fail(ENOTTY, "Property '%s' is not %s", name, type_noun(as));
  bool needs_connect = e->access == Access::ConnectedRO || e->access == Access::ConnectedRW;
  if (needs_connect && state == State::Created)
    return fail(ENODEV, "Device must be connected to read property '%s'", name);
  e->get(out);
  if (as == PropType::Str) out->s = format_value(e->type, *out);
  return 0;
}

int PropertyTable::set(State state, const char* name, PropType as, const PropValue& value) {
  const Entry* e = find(name);
  if (!e) return fail(ENOENT, "Unknown property name '%s'", name);
  // A C string cannot hold what follows a NUL: a value with one would be cut short.
  if (as == PropType::Str && value.s.find('\0') != std::string::npos)
    return fail(EINVAL, "Value of property '%s' must not contain a NUL character", name);
  if (as != e->type && as != PropType::Str)
    return fail(ENOTTY, "Property '%s' is not %s", name, type_noun(as));
  switch (e->access) {
    case Access::Constant:
    case Access::ConnectedRO:
      return fail(EACCES, "Property '%s' is read-only", name);
    case Access::CreatedRW:
      if (state != State::Created)
        return fail(EBUSY, "Cannot set property '%s' in %s state", name, state_name(state));
      break;
    case Access::ConnectedRW:
      if (state == State::Created) return fail(ENODEV, "Device must be connected to set property '%s'", name);
      if (state == State::Started)
        return fail(EBUSY, "Cannot set property '%s' in started state", name);
      break;
  }
  if (as == PropType::Str && e->type != PropType::Str) {
    PropValue parsed;
    int r = parse_value(name, e->type, value.s, &parsed);
    if (r < 0) return r;
    return e->set(parsed);
  }
  return e->set(value);
}

}  // namespace blkio
