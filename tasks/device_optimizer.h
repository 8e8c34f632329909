// DeviceOptimizer: the update rules of torch.optim.SGD and torch.optim.Adam on device tensors
// only, for the trainers (fmnist_task.cc). A LibTorch header: include it only from LibTorch
// translation units.
#ifndef HPO_TASKS_DEVICE_OPTIMIZER_H_
#define HPO_TASKS_DEVICE_OPTIMIZER_H_

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace hpo::tasks {

struct OptimizerRule {
  bool adam = false;  // else SGD
  double lr = 0;
  double momentum = 0;  // SGD only; 0 = plain SGD
  double weight_decay = 0;
};

// torch.optim.SGD (dampening 0, no Nesterov) and torch.optim.Adam (betas 0.9, 0.999, eps 1e-8)
// with L2 weight decay, written with tensors on the parameters' device only: the step count is a
// device tensor, so a step captured in a CUDA graph replays correctly. Thread-compatible.
class DeviceOptimizer {
 public:
  DeviceOptimizer(std::vector<torch::Tensor> params, const OptimizerRule& rule)
      : params_(std::move(params)), h_(rule) {
    for (const torch::Tensor& p : params_) {
      first_.push_back(torch::zeros_like(p));
      if (h_.adam) second_.push_back(torch::zeros_like(p));
    }
    step_ = torch::zeros({}, params_.front().options());
  }

  // Sets every gradient to none (the next backward writes it afresh).
  void ZeroGrad() {
    for (torch::Tensor& p : params_) p.mutable_grad() = torch::Tensor();
  }

  // One update from the parameters' gradients.
  void Step() {
    torch::NoGradGuard no_grad;
    if (h_.adam) {
      constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
      step_.add_(1);
      const torch::Tensor step_size = h_.lr / (1 - torch::pow(kBeta1, step_));
      const torch::Tensor inv_sqrt_bc2 = torch::rsqrt(1 - torch::pow(kBeta2, step_));
      for (size_t i = 0; i < params_.size(); ++i) {
        torch::Tensor& p = params_[i];
        torch::Tensor g = p.grad();
        if (h_.weight_decay != 0) g = g.add(p, h_.weight_decay);
        first_[i].mul_(kBeta1).add_(g, 1 - kBeta1);
        second_[i].mul_(kBeta2).addcmul_(g, g, 1 - kBeta2);
        const torch::Tensor denom = (second_[i].sqrt() * inv_sqrt_bc2).add_(kEps);
        p.sub_(first_[i] / denom * step_size);
      }
      return;
    }
    for (size_t i = 0; i < params_.size(); ++i) {
      torch::Tensor& p = params_[i];
      torch::Tensor g = p.grad();
      if (h_.weight_decay != 0) g = g.add(p, h_.weight_decay);
      if (h_.momentum != 0) {
        first_[i].mul_(h_.momentum).add_(g);
        g = first_[i];
      }
      p.sub_(g, h_.lr);
    }
  }

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> first_;   // SGD's momentum buffer, Adam's first moment
  std::vector<torch::Tensor> second_;  // Adam's second moment
  torch::Tensor step_;
  OptimizerRule h_;
};

}  // namespace hpo::tasks

#endif  // HPO_TASKS_DEVICE_OPTIMIZER_H_
