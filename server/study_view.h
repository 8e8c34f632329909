// A read-only picture of one study that optimizers and stoppers decide from.
#ifndef HPO_SERVER_STUDY_VIEW_H_
#define HPO_SERVER_STUDY_VIEW_H_

#include <vector>

#include "hpo/v1/hpo.pb.h"

namespace hpo::server {

// Borrowed pointers: valid only during the call that receives the view. Not thread-safe; the
// caller holds whatever lock protects the data.
struct StudyView {
  const hpo::v1::StudySpec* spec = nullptr;
  // Every attempt of every trial so far, in id order, with measurements.
  const std::vector<hpo::v1::Trial>* trials = nullptr;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STUDY_VIEW_H_
