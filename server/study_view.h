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
  // Completed trials of earlier studies that warm-start the optimizer (null when none): each
  // with a finite value and parameters that fit the space, no measurements, numbers of their
  // own study. History before `trials`; not this study's trials.
  const std::vector<hpo::v1::Trial>* prior = nullptr;
  // How many entries of `trials` are in each state, when the caller keeps that count (the
  // coordinator does); null otherwise, and an optimizer that needs it counts `trials` itself.
  const hpo::v1::TrialCounts* counts = nullptr;
  // The study has ended (completed or stopped): it takes no new trials, so a description of the
  // optimizer (Optimizer::Describe) has no "next" to tell.
  bool ended = false;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STUDY_VIEW_H_
