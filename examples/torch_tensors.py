"""A small PyTorch program: tensors, methods and activations (bundled example)."""
import torch
import torch.nn.functional as F

x = torch.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
w = torch.randn(3, 2) * 0.1

h = F.relu(x.matmul(w))
probs = F.softmax(h, dim=-1)
flat = probs.view(-1)
best = probs.argmax(dim=1)
print(x.pow(2).mean().item(), best)
