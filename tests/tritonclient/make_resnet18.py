# Export a seeded, untrained torchvision ResNet-18 to ONNX for the tritonclient check.
import sys, torch, torchvision, onnx
torch.set_num_threads(1)
torch.manual_seed(0)
out = sys.argv[1] if len(sys.argv) > 1 else "models/resnet18/1/model.onnx"
import os; os.makedirs(os.path.dirname(out), exist_ok=True)
m = torchvision.models.resnet18(weights=None).eval()
x = torch.randn(1, 3, 224, 224)
torch.onnx.export(m, x, out, opset_version=13, input_names=["input"], output_names=["output"],
                  dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
mo = onnx.load(out)
def put(k, v):
    p = mo.metadata_props.add(); p.key = k; p.value = v
put("fovea.labels", "\n".join(f"class_{i:04d}" for i in range(1000)))
put("fovea.input.mean", "0.485,0.456,0.406")
put("fovea.input.std", "0.229,0.224,0.225")
onnx.save(mo, out)
print("wrote", out, os.path.getsize(out))
