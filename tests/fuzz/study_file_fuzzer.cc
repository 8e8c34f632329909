// libFuzzer target: the study-file reader. Any bytes must end in a spec or an error, and a spec
// it accepts must validate, write back as YAML, and read back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "core/study_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<hpo::v1::StudySpec> spec = hpo::core::ParseStudyYaml(text);
  if (!spec.ok()) return 0;
  (void)hpo::core::ValidateStudySpec(*spec);
  const std::string yaml = hpo::core::StudySpecToYaml(*spec);
  if (absl::StatusOr<hpo::v1::StudySpec> again = hpo::core::ParseStudyYaml(yaml); !again.ok()) {
    // What we write, we read.
    std::fprintf(stderr, "written:\n%s\nread back: %s\n", yaml.c_str(),
                 std::string(again.status().message()).c_str());
    std::abort();
  }
  return 0;
}
