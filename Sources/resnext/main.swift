print("resnext")
