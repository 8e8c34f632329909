#include "backend/backend.h"

namespace hpo::backend {

absl::StatusOr<std::vector<hpo::v1::Trial>> Backend::AllTrials(const std::string& study,
                                                               hpo::v1::TrialState state) {
  std::vector<hpo::v1::Trial> out;
  hpo::v1::ListTrialsRequest request;
  request.set_study_name(study);
  request.set_state(state);
  request.set_page_size(1000);
  while (true) {
    auto page = ListTrials(request);
    if (!page.ok()) return page.status();
    for (auto& t : *page->mutable_trials()) out.push_back(std::move(t));
    if (page->next_page_token().empty()) return out;
    request.set_page_token(page->next_page_token());
  }
}

}  // namespace hpo::backend
