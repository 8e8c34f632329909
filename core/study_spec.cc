// The one file that talks to yaml-cpp: its exceptions stop here.
#include "core/study_spec.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/limits.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace hpo::core {

using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;
using hpo::v1::StudySpec;

namespace {

absl::Status Err(const std::string& path, absl::string_view msg) {
  if (path.empty()) return absl::InvalidArgumentError(msg);
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", msg));
}

std::string Join(const std::string& path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

bool Present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

// `n` must be a map whose keys are all in `allowed`, each once.
absl::Status CheckMap(const YAML::Node& n, const std::string& path,
                      std::initializer_list<absl::string_view> allowed) {
  if (!n.IsMap()) {
    return path.empty() ? Err("", "the study file must be a YAML map of fields")
                        : Err(path, "must be a map");
  }
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) return Err(path, "field names must be plain strings");
    const std::string& key = it->first.Scalar();
    bool known = false;
    for (absl::string_view a : allowed) known = known || a == key;
    if (!known) return Err(path, absl::StrCat("unknown field '", key, "'"));
    if (!seen.insert(key).second) return Err(path, absl::StrCat("duplicate field '", key, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadString(const YAML::Node& n, const std::string& path) {
  if (!Present(n)) return Err(path, "missing");
  if (!n.IsScalar()) return Err(path, "must be a string");
  return n.Scalar();
}

absl::StatusOr<int64_t> ReadInt(const YAML::Node& n, const std::string& path) {
  if (!Present(n)) return Err(path, "missing");
  int64_t v;
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v)) {
    return Err(path,
               absl::StrCat("must be an integer, got '", n.IsScalar() ? n.Scalar() : "", "'"));
  }
  return v;
}

absl::StatusOr<int32_t> ReadInt32(const YAML::Node& n, const std::string& path) {
  HPO_ASSIGN_OR_RETURN(int64_t v, ReadInt(n, path));
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    return Err(path, absl::StrCat(v, " is out of range"));
  }
  return static_cast<int32_t>(v);
}

absl::StatusOr<double> ReadDouble(const YAML::Node& n, const std::string& path) {
  if (!Present(n)) return Err(path, "missing");
  double v;
  if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v)) {
    return Err(path, absl::StrCat("must be a number, got '", n.IsScalar() ? n.Scalar() : "", "'"));
  }
  return v;
}

absl::StatusOr<bool> ReadBool(const YAML::Node& n, const std::string& path) {
  if (!Present(n)) return Err(path, "missing");
  const std::string text = n.IsScalar() ? absl::AsciiStrToLower(n.Scalar()) : "";
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  return Err(path,
             absl::StrCat("must be true or false, got '", n.IsScalar() ? n.Scalar() : "", "'"));
}

// low, high and the optional log and step of a float or int domain (`Domain` is FloatDomain or
// IntDomain, `T` its number type, `read` the matching reader).
template <typename T, typename Domain>
absl::Status ReadNumericDomain(const YAML::Node& n, const std::string& path,
                               absl::StatusOr<T> (*read)(const YAML::Node&, const std::string&),
                               Domain* d) {
  HPO_ASSIGN_OR_RETURN(T low, read(n["low"], Join(path, "low")));
  HPO_ASSIGN_OR_RETURN(T high, read(n["high"], Join(path, "high")));
  d->set_low(low);
  d->set_high(high);
  if (n["log"].IsDefined()) {
    HPO_ASSIGN_OR_RETURN(bool log, ReadBool(n["log"], Join(path, "log")));
    d->set_log(log);
  }
  if (n["step"].IsDefined()) {
    HPO_ASSIGN_OR_RETURN(T step, read(n["step"], Join(path, "step")));
    d->set_step(step);
  }
  return absl::OkStatus();
}

// A map of scalars kept as their text (numbers allowed, stored as text).
absl::Status ReadStringMap(const YAML::Node& n, const std::string& path,
                           google::protobuf::Map<std::string, std::string>* out) {
  if (!n.IsMap()) return Err(path, "must be a map");
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) return Err(path, "keys must be plain strings");
    const std::string& key = it->first.Scalar();
    if (out->count(key) > 0) return Err(path, absl::StrCat("duplicate field '", key, "'"));
    if (!it->second.IsScalar()) return Err(Join(path, key), "must be a string or number");
    (*out)[key] = it->second.Scalar();
  }
  return absl::OkStatus();
}

bool LooksLikeInt(absl::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (!absl::ascii_isdigit(s[i])) return false;
  }
  return true;
}

// [-+]? (digits [. digits?] | . digits) ([eE] [-+]? digits)?
bool LooksLikeNumber(absl::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

bool IsBoolWord(absl::string_view s, bool* value) {
  if (s == "true" || s == "True" || s == "TRUE") {
    *value = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    *value = false;
    return true;
  }
  return false;
}

// A plain YAML scalar's typed reading: int, else number, else true/false, else string.
ParamValue TypedValue(absl::string_view text) {
  ParamValue v;
  int64_t i;
  double d;
  bool b;
  if (LooksLikeInt(text) && absl::SimpleAtoi(text, &i)) {
    v.set_int_value(i);
  } else if (LooksLikeNumber(text) && absl::SimpleAtod(text, &d)) {
    v.set_float_value(d);
  } else if (IsBoolWord(text, &b)) {
    v.set_bool_value(b);
  } else {
    v.set_string_value(std::string(text));
  }
  return v;
}

// A categorical choice or condition value; quoted scalars are always strings.
absl::StatusOr<ParamValue> ReadValue(const YAML::Node& n, const std::string& path) {
  if (!Present(n) || !n.IsScalar()) return Err(path, "each value must be a scalar");
  if (n.Tag() == "!") {  // quoted
    ParamValue v;
    v.set_string_value(n.Scalar());
    return v;
  }
  return TypedValue(n.Scalar());
}

// Mixed int and float choices are all floats: [0.5, 1, 2].
void PromoteIntsToFloats(google::protobuf::RepeatedPtrField<ParamValue>* values) {
  bool has_float = false;
  for (const ParamValue& v : *values) {
    if (v.kind_case() == ParamValue::kFloatValue) {
      has_float = true;
    } else if (v.kind_case() != ParamValue::kIntValue) {
      return;
    }
  }
  if (!has_float) return;
  for (ParamValue& v : *values) {
    if (v.kind_case() == ParamValue::kIntValue) {
      v.set_float_value(static_cast<double>(v.int_value()));
    }
  }
}

// Reads condition values as the parent's kind where the text allows: ints for a float-choice
// parent become floats, anything for a string-choice parent becomes its text.
void CoerceToParent(const ParamSpec* parent, const std::vector<std::string>& texts,
                    hpo::v1::Condition* cond) {
  if (parent == nullptr || parent->domain_case() != ParamSpec::kCategorical ||
      parent->categorical().choices().empty()) {
    return;
  }
  const ParamValue::KindCase kind = parent->categorical().choices(0).kind_case();
  for (int i = 0; i < cond->values_size(); ++i) {
    ParamValue* v = cond->mutable_values(i);
    if (kind == ParamValue::kFloatValue && v->kind_case() == ParamValue::kIntValue) {
      v->set_float_value(static_cast<double>(v->int_value()));
    } else if (kind == ParamValue::kStringValue && v->kind_case() != ParamValue::kStringValue) {
      v->set_string_value(texts[i]);
    }
  }
}

absl::Status ReadParam(const std::string& name, const YAML::Node& n,
                       const hpo::v1::SearchSpace& declared, ParamSpec* spec) {
  const std::string path = Join("space", name);
  spec->set_name(name);
  if (!n.IsMap()) return Err(path, "must be a map");
  HPO_RETURN_IF_ERROR(
      CheckMap(n, path, {"type", "low", "high", "log", "step", "choices", "condition"}));
  HPO_ASSIGN_OR_RETURN(std::string type, ReadString(n["type"], Join(path, "type")));
  auto not_for = [&](std::initializer_list<absl::string_view> keys) -> absl::Status {
    for (absl::string_view key : keys) {
      if (n[std::string(key)].IsDefined()) {
        return Err(path, absl::StrCat("field '", key, "' does not apply to type ", type));
      }
    }
    return absl::OkStatus();
  };
  if (type == "float") {
    HPO_RETURN_IF_ERROR(not_for({"choices"}));
    HPO_RETURN_IF_ERROR(
        ReadNumericDomain<double>(n, path, &ReadDouble, spec->mutable_float_domain()));
  } else if (type == "int") {
    HPO_RETURN_IF_ERROR(not_for({"choices"}));
    HPO_RETURN_IF_ERROR(ReadNumericDomain<int64_t>(n, path, &ReadInt, spec->mutable_int_domain()));
  } else if (type == "categorical") {
    HPO_RETURN_IF_ERROR(not_for({"low", "high", "log", "step"}));
    const YAML::Node choices = n["choices"];
    if (!Present(choices)) return Err(Join(path, "choices"), "missing");
    if (!choices.IsSequence()) return Err(Join(path, "choices"), "must be a list");
    auto* d = spec->mutable_categorical();
    for (const YAML::Node& c : choices) {
      HPO_ASSIGN_OR_RETURN(*d->add_choices(), ReadValue(c, Join(path, "choices")));
    }
    PromoteIntsToFloats(d->mutable_choices());
  } else {
    return Err(path,
               absl::StrCat("unknown type '", type, "' (expected float, int or categorical)"));
  }

  const YAML::Node cond_node = n["condition"];
  if (cond_node.IsDefined()) {
    const std::string cpath = Join(path, "condition");
    HPO_RETURN_IF_ERROR(CheckMap(cond_node, cpath, {"parent", "values"}));
    auto* cond = spec->mutable_condition();
    HPO_ASSIGN_OR_RETURN(*cond->mutable_parent(),
                         ReadString(cond_node["parent"], Join(cpath, "parent")));
    const YAML::Node values = cond_node["values"];
    if (!Present(values)) return Err(Join(cpath, "values"), "missing");
    std::vector<std::string> texts;
    if (values.IsScalar()) {  // a single value needs no list
      HPO_ASSIGN_OR_RETURN(*cond->add_values(), ReadValue(values, Join(cpath, "values")));
      texts.push_back(values.Scalar());
    } else if (values.IsSequence()) {
      for (const YAML::Node& v : values) {
        HPO_ASSIGN_OR_RETURN(*cond->add_values(), ReadValue(v, Join(cpath, "values")));
        texts.push_back(v.Scalar());
      }
    } else {
      return Err(Join(cpath, "values"), "must be a list");
    }
    CoerceToParent(FindParam(declared, cond->parent()), texts, cond);
  }
  return absl::OkStatus();
}

absl::Status ReadTask(const YAML::Node& n, hpo::v1::TaskSpec* task) {
  HPO_RETURN_IF_ERROR(
      CheckMap(n, "task", {"builtin", "args", "command", "env", "workdir", "trial_dir_root"}));
  if (n["trial_dir_root"].IsDefined()) {
    HPO_ASSIGN_OR_RETURN(*task->mutable_trial_dir_root(),
                         ReadString(n["trial_dir_root"], "task.trial_dir_root"));
  }
  const bool builtin = n["builtin"].IsDefined();
  const bool command = n["command"].IsDefined();
  if (builtin && command) return Err("task", "give either builtin or command, not both");
  if (!builtin && !command) return Err("task", "needs builtin or command");
  if (builtin) {
    if (n["env"].IsDefined()) return Err("task.env", "only allowed with command");
    if (n["workdir"].IsDefined()) return Err("task.workdir", "only allowed with command");
    HPO_ASSIGN_OR_RETURN(*task->mutable_builtin(), ReadString(n["builtin"], "task.builtin"));
    if (n["args"].IsDefined()) {
      HPO_RETURN_IF_ERROR(ReadStringMap(n["args"], "task.args", task->mutable_builtin_args()));
    }
    return absl::OkStatus();
  }
  if (n["args"].IsDefined()) return Err("task.args", "only allowed with builtin");
  const YAML::Node argv = n["command"];
  if (!argv.IsSequence()) return Err("task.command", "must be a list of strings");
  auto* cmd = task->mutable_command();
  for (const YAML::Node& a : argv) {
    if (!a.IsScalar()) return Err("task.command", "must be a list of strings");
    cmd->add_argv(a.Scalar());
  }
  if (n["env"].IsDefined()) {
    HPO_RETURN_IF_ERROR(ReadStringMap(n["env"], "task.env", cmd->mutable_env()));
  }
  if (n["workdir"].IsDefined()) {
    HPO_ASSIGN_OR_RETURN(*cmd->mutable_workdir(), ReadString(n["workdir"], "task.workdir"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StudySpec> ParseRoot(const YAML::Node& root) {
  HPO_RETURN_IF_ERROR(CheckMap(
      root, "", {"name", "objective", "optimizer", "early_stopping", "budget", "space", "task"}));
  StudySpec spec;
  HPO_ASSIGN_OR_RETURN(*spec.mutable_name(), ReadString(root["name"], "name"));

  const YAML::Node objective = root["objective"];
  if (!Present(objective)) return Err("objective", "missing");
  HPO_RETURN_IF_ERROR(CheckMap(objective, "objective", {"metric", "direction"}));
  HPO_ASSIGN_OR_RETURN(*spec.mutable_objective()->mutable_metric(),
                       ReadString(objective["metric"], "objective.metric"));
  HPO_ASSIGN_OR_RETURN(std::string direction,
                       ReadString(objective["direction"], "objective.direction"));
  const std::string dir = absl::AsciiStrToLower(direction);
  if (dir == "minimize") {
    spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  } else if (dir == "maximize") {
    spec.mutable_objective()->set_direction(hpo::v1::MAXIMIZE);
  } else {
    return Err("objective.direction",
               absl::StrCat("must be minimize or maximize, got '", direction, "'"));
  }

  spec.mutable_optimizer()->set_name("auto");
  const YAML::Node optimizer = root["optimizer"];
  if (Present(optimizer)) {
    HPO_RETURN_IF_ERROR(
        CheckMap(optimizer, "optimizer", {"name", "seed", "options", "warm_start_from"}));
    if (optimizer["name"].IsDefined()) {
      HPO_ASSIGN_OR_RETURN(*spec.mutable_optimizer()->mutable_name(),
                           ReadString(optimizer["name"], "optimizer.name"));
    }
    if (optimizer["seed"].IsDefined()) {
      HPO_ASSIGN_OR_RETURN(int64_t seed, ReadInt(optimizer["seed"], "optimizer.seed"));
      spec.mutable_optimizer()->set_seed(seed);
    }
    if (optimizer["options"].IsDefined()) {
      HPO_RETURN_IF_ERROR(ReadStringMap(optimizer["options"], "optimizer.options",
                                        spec.mutable_optimizer()->mutable_options()));
    }
    // A study name, or a list of them.
    const YAML::Node from = optimizer["warm_start_from"];
    if (from.IsDefined() && from.IsSequence()) {
      for (size_t i = 0; i < from.size(); ++i) {
        HPO_ASSIGN_OR_RETURN(
            *spec.mutable_optimizer()->add_warm_start_from(),
            ReadString(from[i], absl::StrCat("optimizer.warm_start_from[", i, "]")));
      }
    } else if (from.IsDefined()) {
      HPO_ASSIGN_OR_RETURN(*spec.mutable_optimizer()->add_warm_start_from(),
                           ReadString(from, "optimizer.warm_start_from"));
    }
  }

  spec.mutable_early_stopping()->set_name("none");
  const YAML::Node stopping = root["early_stopping"];
  if (Present(stopping)) {
    HPO_RETURN_IF_ERROR(CheckMap(stopping, "early_stopping", {"name", "options"}));
    if (stopping["name"].IsDefined()) {
      HPO_ASSIGN_OR_RETURN(*spec.mutable_early_stopping()->mutable_name(),
                           ReadString(stopping["name"], "early_stopping.name"));
    }
    if (stopping["options"].IsDefined()) {
      HPO_RETURN_IF_ERROR(ReadStringMap(stopping["options"], "early_stopping.options",
                                        spec.mutable_early_stopping()->mutable_options()));
    }
  }

  const YAML::Node budget = root["budget"];
  if (!Present(budget)) return Err("budget", "missing");
  HPO_RETURN_IF_ERROR(
      CheckMap(budget, "budget", {"max_trials", "max_parallel", "max_retries", "trial_timeout_s"}));
  auto* b = spec.mutable_budget();
  HPO_ASSIGN_OR_RETURN(int32_t max_trials, ReadInt32(budget["max_trials"], "budget.max_trials"));
  b->set_max_trials(max_trials);
  b->set_max_parallel(1);
  if (budget["max_parallel"].IsDefined()) {
    HPO_ASSIGN_OR_RETURN(int32_t v, ReadInt32(budget["max_parallel"], "budget.max_parallel"));
    b->set_max_parallel(v);
  }
  if (budget["max_retries"].IsDefined()) {
    HPO_ASSIGN_OR_RETURN(int32_t v, ReadInt32(budget["max_retries"], "budget.max_retries"));
    b->set_max_retries(v);
  }
  if (budget["trial_timeout_s"].IsDefined()) {
    HPO_ASSIGN_OR_RETURN(double v, ReadDouble(budget["trial_timeout_s"], "budget.trial_timeout_s"));
    b->set_trial_timeout_s(v);
  }

  const YAML::Node space = root["space"];
  if (!Present(space)) return Err("space", "missing");
  if (!space.IsMap()) return Err("space", "must be a map of parameter name to spec");
  if (space.size() == 0) return Err("space", "must have at least one parameter");
  std::set<std::string> names;
  for (auto it = space.begin(); it != space.end(); ++it) {
    if (!it->first.IsScalar()) return Err("space", "parameter names must be plain strings");
    const std::string& name = it->first.Scalar();
    if (!names.insert(name).second) {
      return Err("space", absl::StrCat("duplicate parameter '", name, "'"));
    }
    ParamSpec param;
    HPO_RETURN_IF_ERROR(ReadParam(name, it->second, spec.space(), &param));
    *spec.mutable_space()->add_params() = std::move(param);
  }

  const YAML::Node task = root["task"];
  if (!Present(task)) return Err("task", "missing");
  HPO_RETURN_IF_ERROR(ReadTask(task, spec.mutable_task()));

  HPO_RETURN_IF_ERROR(ValidateStudySpec(spec));
  return spec;
}

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // cut short
    for (int k = 1; k <= extra; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// The path of the first string field of `message` (recursively) that is not UTF-8; "" if none.
// Protobuf strings must be UTF-8: anything else would be refused on the wire.
std::string FirstNonUtf8(const google::protobuf::Message& message, const std::string& path) {
  const google::protobuf::Reflection* r = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    const std::string here = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(message, f); ++i) {
          if (!IsUtf8(r->GetRepeatedString(message, f, i))) return here;
        }
      } else if (!IsUtf8(r->GetString(message, f))) {
        return here;
      }
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(message, f); ++i) {
          std::string bad = FirstNonUtf8(r->GetRepeatedMessage(message, f, i), here);
          if (!bad.empty()) return bad;
        }
      } else {
        std::string bad = FirstNonUtf8(r->GetMessage(message, f), here);
        if (!bad.empty()) return bad;
      }
    }
  }
  return "";
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 128 || !absl::ascii_isalnum(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsPlaceholderChar(char c) {
  return c != '{' && c != '}' && c != '"' && c != '\'' && !absl::ascii_isspace(c);
}

// Calls f(begin, end, name) for each placeholder of `arg`, where [begin, end) spans "{name}".
template <typename F>
void ForEachPlaceholder(absl::string_view arg, F f) {
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] != '{' || (i > 0 && arg[i - 1] == '$')) continue;
    size_t j = i + 1;
    while (j < arg.size() && IsPlaceholderChar(arg[j])) ++j;
    if (j > i + 1 && j < arg.size() && arg[j] == '}') {
      f(i, j + 1, arg.substr(i + 1, j - i - 1));
      i = j;
    }
  }
}

// ------------------------------------------------------------------ YAML writing

// Text that reads back as the same string when the reader takes the scalar's text.
bool SafePlain(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-' && c != '/' && c != '+') {
      return false;
    }
  }
  if (s[0] == '-' && s.size() == 1) return false;
  const std::string lower = absl::AsciiStrToLower(s);
  return lower != "null" && lower != "~";
}

void EmitText(YAML::Emitter& out, const std::string& s) {
  if (SafePlain(s)) {
    out << s;
  } else {
    out << YAML::DoubleQuoted << s;
  }
}

std::string FloatText(double v) {
  ParamValue p;
  p.set_float_value(v);
  std::string text = FormatValue(p);
  if (text.find_first_of(".eni") == std::string::npos) text += ".0";  // keep it a float
  return text;
}

// A categorical choice or condition value, written so that ReadValue gives back its kind.
void EmitValue(YAML::Emitter& out, const ParamValue& v) {
  switch (v.kind_case()) {
    case ParamValue::kFloatValue:
      out << FloatText(v.float_value());
      break;
    case ParamValue::kIntValue:
      out << absl::StrCat(v.int_value());
      break;
    case ParamValue::kBoolValue:
      out << (v.bool_value() ? "true" : "false");
      break;
    case ParamValue::kStringValue:
      if (SafePlain(v.string_value()) &&
          TypedValue(v.string_value()).kind_case() == ParamValue::kStringValue) {
        out << v.string_value();
      } else {
        out << YAML::DoubleQuoted << v.string_value();
      }
      break;
    default:
      out << YAML::DoubleQuoted << "";
      break;
  }
}

void EmitStringMap(YAML::Emitter& out, const google::protobuf::Map<std::string, std::string>& m) {
  std::map<std::string, std::string> sorted(m.begin(), m.end());
  out << YAML::Flow << YAML::BeginMap;
  for (const auto& [k, v] : sorted) {
    out << YAML::Key;
    EmitText(out, k);
    out << YAML::Value;
    EmitText(out, v);
  }
  out << YAML::EndMap;
}

void EmitParam(YAML::Emitter& out, const ParamSpec& p) {
  out << YAML::Flow << YAML::BeginMap;
  switch (p.domain_case()) {
    case ParamSpec::kFloatDomain: {
      const auto& d = p.float_domain();
      out << YAML::Key << "type" << YAML::Value << "float";
      out << YAML::Key << "low" << YAML::Value << FloatText(d.low());
      out << YAML::Key << "high" << YAML::Value << FloatText(d.high());
      if (d.log()) out << YAML::Key << "log" << YAML::Value << "true";
      if (d.step() != 0) out << YAML::Key << "step" << YAML::Value << FloatText(d.step());
      break;
    }
    case ParamSpec::kIntDomain: {
      const auto& d = p.int_domain();
      out << YAML::Key << "type" << YAML::Value << "int";
      out << YAML::Key << "low" << YAML::Value << absl::StrCat(d.low());
      out << YAML::Key << "high" << YAML::Value << absl::StrCat(d.high());
      if (d.log()) out << YAML::Key << "log" << YAML::Value << "true";
      if (d.step() != 0) out << YAML::Key << "step" << YAML::Value << absl::StrCat(d.step());
      break;
    }
    case ParamSpec::kCategorical: {
      out << YAML::Key << "type" << YAML::Value << "categorical";
      out << YAML::Key << "choices" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const ParamValue& c : p.categorical().choices()) EmitValue(out, c);
      out << YAML::EndSeq;
      break;
    }
    default:
      break;
  }
  if (p.has_condition()) {
    out << YAML::Key << "condition" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "parent" << YAML::Value;
    EmitText(out, p.condition().parent());
    out << YAML::Key << "values" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const ParamValue& v : p.condition().values()) EmitValue(out, v);
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndMap;
}

}  // namespace

absl::StatusOr<StudySpec> ParseStudyYaml(absl::string_view text) {
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return ParseRoot(root);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(e.msg);
    return absl::InvalidArgumentError(absl::StrCat("line ", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<StudySpec> LoadStudyFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot read study file '", path, "': ", std::strerror(errno)));
  }
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    return absl::NotFoundError(absl::StrCat("cannot read study file '", path, "'"));
  }
  auto spec = ParseStudyYaml(text);
  if (!spec.ok()) return Annotate(spec.status(), path);
  return spec;
}

std::vector<std::string> CommandPlaceholders(absl::string_view arg) {
  std::vector<std::string> out;
  ForEachPlaceholder(arg, [&](size_t, size_t, absl::string_view name) { out.emplace_back(name); });
  return out;
}

std::string SubstitutePlaceholders(absl::string_view arg, const hpo::v1::ParamMap& params) {
  std::string out;
  size_t done = 0;
  ForEachPlaceholder(arg, [&](size_t begin, size_t end, absl::string_view name) {
    auto it = params.values().find(std::string(name));
    if (it == params.values().end()) return;
    absl::StrAppend(&out, arg.substr(done, begin - done), FormatValue(it->second));
    done = end;
  });
  absl::StrAppend(&out, arg.substr(done));
  return out;
}

absl::Status ValidateStudySpec(const StudySpec& spec) {
  if (std::string bad = FirstNonUtf8(spec, ""); !bad.empty()) {
    return Err(bad, "is not valid UTF-8 text");
  }
  if (spec.name().empty()) return Err("name", "missing");
  if (!ValidName(spec.name())) {
    return Err("name", absl::StrCat("must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, got '",
                                    spec.name(), "'"));
  }
  if (spec.objective().metric().empty()) return Err("objective.metric", "missing");
  if (spec.objective().direction() != hpo::v1::MINIMIZE &&
      spec.objective().direction() != hpo::v1::MAXIMIZE) {
    return Err("objective.direction", "must be minimize or maximize");
  }
  if (spec.optimizer().name().empty()) return Err("optimizer.name", "missing");
  for (const std::string& from : spec.optimizer().warm_start_from()) {
    if (!ValidName(from)) {
      return Err(
          "optimizer.warm_start_from",
          absl::StrCat("'", from, "' is not a study name ([A-Za-z0-9][A-Za-z0-9_.-]{0,127})"));
    }
    if (from == spec.name()) return Err("optimizer.warm_start_from", "names the study itself");
  }
  const auto& b = spec.budget();
  if (b.max_trials() < 1) {
    return Err("budget.max_trials", absl::StrCat("must be >= 1, got ", b.max_trials()));
  }
  if (b.max_parallel() < 1) {
    return Err("budget.max_parallel", absl::StrCat("must be >= 1, got ", b.max_parallel()));
  }
  if (b.max_retries() < 0) {
    return Err("budget.max_retries", absl::StrCat("must be >= 0, got ", b.max_retries()));
  }
  if (!(b.trial_timeout_s() >= 0) || std::isinf(b.trial_timeout_s())) {
    return Err("budget.trial_timeout_s",
               absl::StrCat("must be a finite number >= 0, got ", b.trial_timeout_s()));
  }
  if (spec.space().params().empty()) return Err("space", "must have at least one parameter");
  if (spec.space().params_size() > kMaxParams) {
    return Err("space", absl::StrCat("has ", spec.space().params_size(), " parameters; at most ",
                                     kMaxParams, " are allowed"));
  }
  for (const auto& p : spec.space().params()) {
    if (p.name().size() > kMaxNameLength) {
      return Err("space", absl::StrCat("parameter name '", p.name().substr(0, 32),
                                       "...' is longer than ", kMaxNameLength, " characters"));
    }
    if (p.has_categorical() && p.categorical().choices_size() > kMaxChoices) {
      return Err(absl::StrCat("space.", p.name()),
                 absl::StrCat("has ", p.categorical().choices_size(), " choices; at most ",
                              kMaxChoices, " are allowed"));
    }
  }
  if (spec.objective().metric().size() > kMaxNameLength) {
    return Err("objective.metric", absl::StrCat("longer than ", kMaxNameLength, " characters"));
  }
  HPO_RETURN_IF_ERROR(ValidateSearchSpace(spec.space()));
  const auto& task = spec.task();
  switch (task.kind_case()) {
    case hpo::v1::TaskSpec::kBuiltin:
      if (task.builtin().empty()) return Err("task.builtin", "missing");
      break;
    case hpo::v1::TaskSpec::kCommand: {
      const auto& argv = task.command().argv();
      if (argv.empty()) return Err("task.command", "must not be empty");
      if (argv[0].empty()) return Err("task.command", "the program (first element) is empty");
      if (argv.size() > kMaxArgs) {
        return Err("task.command", absl::StrCat("has ", argv.size(), " arguments; at most ",
                                                kMaxArgs, " are allowed"));
      }
      if (task.command().env_size() > kMaxEnv) {
        return Err("task.env", absl::StrCat("has ", task.command().env_size(), " entries; at most ",
                                            kMaxEnv, " are allowed"));
      }
      for (const std::string& arg : argv) {
        if (arg.size() > kMaxArgBytes) {
          return Err("task.command", absl::StrCat("an argument is ", arg.size(), " bytes; at most ",
                                                  kMaxArgBytes, " are allowed"));
        }
      }
      for (const std::string& arg : argv) {
        for (const std::string& name : CommandPlaceholders(arg)) {
          if (FindParam(spec.space(), name) == nullptr) {
            return Err("task.command", absl::StrCat("placeholder {", name, "} names no parameter"));
          }
        }
      }
      break;
    }
    default:
      return Err("task", "missing (expected builtin or command)");
  }
  if (const std::string& root = task.trial_dir_root(); !root.empty()) {
    if (root[0] != '/') {
      return Err("task.trial_dir_root", absl::StrCat("must be an absolute path, got '", root, "'"));
    }
    if (root.find('\0') != std::string::npos) {
      return Err("task.trial_dir_root", "must not contain a NUL character");
    }
    if (root.size() > kMaxPathBytes) {
      return Err("task.trial_dir_root", absl::StrCat("is ", root.size(), " bytes; at most ",
                                                     kMaxPathBytes, " are allowed"));
    }
  }
  return absl::OkStatus();
}

std::string StudySpecToYaml(const StudySpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  EmitText(out, spec.name());

  out << YAML::Key << "objective" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "metric" << YAML::Value;
  EmitText(out, spec.objective().metric());
  if (spec.objective().direction() == hpo::v1::MINIMIZE) {
    out << YAML::Key << "direction" << YAML::Value << "minimize";
  } else if (spec.objective().direction() == hpo::v1::MAXIMIZE) {
    out << YAML::Key << "direction" << YAML::Value << "maximize";
  }
  out << YAML::EndMap;

  out << YAML::Key << "optimizer" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  EmitText(out, spec.optimizer().name());
  out << YAML::Key << "seed" << YAML::Value << absl::StrCat(spec.optimizer().seed());
  if (!spec.optimizer().options().empty()) {
    out << YAML::Key << "options" << YAML::Value;
    EmitStringMap(out, spec.optimizer().options());
  }
  if (!spec.optimizer().warm_start_from().empty()) {
    out << YAML::Key << "warm_start_from" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& from : spec.optimizer().warm_start_from()) EmitText(out, from);
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;

  out << YAML::Key << "early_stopping" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  EmitText(out, spec.early_stopping().name());
  if (!spec.early_stopping().options().empty()) {
    out << YAML::Key << "options" << YAML::Value;
    EmitStringMap(out, spec.early_stopping().options());
  }
  out << YAML::EndMap;

  const auto& b = spec.budget();
  out << YAML::Key << "budget" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "max_trials" << YAML::Value << absl::StrCat(b.max_trials());
  out << YAML::Key << "max_parallel" << YAML::Value << absl::StrCat(b.max_parallel());
  out << YAML::Key << "max_retries" << YAML::Value << absl::StrCat(b.max_retries());
  ParamValue timeout;
  timeout.set_float_value(b.trial_timeout_s());
  out << YAML::Key << "trial_timeout_s" << YAML::Value << FormatValue(timeout);
  out << YAML::EndMap;

  out << YAML::Key << "space" << YAML::Value << YAML::BeginMap;
  for (const ParamSpec& p : spec.space().params()) {
    out << YAML::Key;
    EmitText(out, p.name());
    out << YAML::Value;
    EmitParam(out, p);
  }
  out << YAML::EndMap;

  const auto& task = spec.task();
  out << YAML::Key << "task" << YAML::Value << YAML::Flow << YAML::BeginMap;
  if (task.kind_case() == hpo::v1::TaskSpec::kBuiltin) {
    out << YAML::Key << "builtin" << YAML::Value;
    EmitText(out, task.builtin());
    if (!task.builtin_args().empty()) {
      out << YAML::Key << "args" << YAML::Value;
      EmitStringMap(out, task.builtin_args());
    }
  } else if (task.kind_case() == hpo::v1::TaskSpec::kCommand) {
    out << YAML::Key << "command" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& a : task.command().argv()) EmitText(out, a);
    out << YAML::EndSeq;
    if (!task.command().env().empty()) {
      out << YAML::Key << "env" << YAML::Value;
      EmitStringMap(out, task.command().env());
    }
    if (!task.command().workdir().empty()) {
      out << YAML::Key << "workdir" << YAML::Value;
      EmitText(out, task.command().workdir());
    }
  }
  if (!task.trial_dir_root().empty()) {
    out << YAML::Key << "trial_dir_root" << YAML::Value;
    EmitText(out, task.trial_dir_root());
  }
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace hpo::core
