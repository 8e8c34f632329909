// fmnist-mlp and fmnist-cnn: real training of a small network on Fashion-MNIST with LibTorch,
// one metric line per epoch. Library hpo_fmnist, built only where LibTorch is found; this header
// includes no LibTorch header (the names, spaces and the IDX reader are in fmnist_data.h).
//
// Data: the first 50,000 images of the "train" split are the training set and its last 10,000
// the validation set; t10k stays untouched for a final test. TaskOptions::max_train_samples = N
// > 0 trains on the first N training images and validates on the first min(N, 10,000)
// validation images, so that a CPU run can be short. Pixels are scaled to [0, 1] and then
// standardized with the training set's mean and deviation (0.2860, 0.3530).
//
// Models (dropout after each hidden linear layer):
//   fmnist-mlp: 784 -> [width, ReLU, dropout] x depth -> 10
//   fmnist-cnn: conv 3x3 1->32, ReLU, max-pool 2 -> conv 3x3 32->64, ReLU, max-pool 2 ->
//               3136 -> width, ReLU, dropout -> 10
// Training: cross-entropy, TaskOptions::steps epochs, batches of batch_size drawn without
// replacement in a seeded order (the last partial batch is dropped; batch_size is capped at the
// training set's size), optimizer sgd (momentum, dampening 0) or adam (0.9, 0.999, eps 1e-8),
// weight_decay as L2 added to the gradient: the update rules of torch.optim.SGD and Adam, written
// with device tensors only (no host synchronisation inside an epoch, and capturable).
// On a GPU (when LibTorch sees one) the data sit on the device, each training step is captured
// once as a CUDA graph and replayed (TaskOptions::cuda_graph), and TaskOptions::bf16 turns on bf16
// autocast for the forward pass.
//
// Each epoch reports one metric line: step = epoch, "value" = 1 - val_accuracy (minimized),
// "val_accuracy", "val_loss", "train_loss" (mean over the epoch's batches), "samples_per_s"
// (training samples over the epoch's training time) and "params" (the model's parameter count);
// the last is marked final. Evaluate returns the final value.
//
// Errors: INVALID_ARGUMENT for params outside FmnistSpace (an unknown optimizer name, momentum
// with adam) or steps < 1; FAILED_PRECONDITION when the data are absent (naming the path, see
// ReadFmnistSplit); CANCELLED when the reporter asks to stop; RESOURCE_EXHAUSTED "GPU out of
// memory: ..." when the device runs out of memory; INTERNAL for another LibTorch error.
// The data are read once per process. Thread-safe: Evaluate calls run one at a time (LibTorch's
// seeding is process-wide).
#ifndef HPO_TASKS_FMNIST_TASK_H_
#define HPO_TASKS_FMNIST_TASK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tasks/fmnist_data.h"
#include "tasks/task.h"

namespace hpo::tasks {

// fmnist-mlp or fmnist-cnn, with its data from `data_dir` (empty: DefaultFmnistDir()), read at
// the first Evaluate. NOT_FOUND for another name.
absl::StatusOr<std::unique_ptr<Task>> MakeFmnistTask(absl::string_view name,
                                                     const std::string& data_dir = "");

// Registers the "fmnist-" family with MakeTask. Linking fmnist_task.cc already does this from a
// static initializer; calling it again is harmless.
void RegisterFmnistTasks();

}  // namespace hpo::tasks

#endif  // HPO_TASKS_FMNIST_TASK_H_
