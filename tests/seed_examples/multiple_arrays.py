# Verbatim from the README of the pure-Python array_logger 1.x (README.md, "Quick start"): do not edit.
import array_logger
import numpy as np

array_logger.init("./logs")

# 異なる種類の配列を登録
array_logger.register("loss", keys=["episode"], shape=(1,), dtype="float32")
array_logger.register("weights", keys=["episode"], shape=(100, 50), dtype="float32")

for episode in range(1000):
    # lossを記録
    loss = np.array([0.5], dtype=np.float32)
    array_logger.log("loss", {"episode": episode}, loss)
    
    # weightsを記録
    weights = np.random.rand(100, 50).astype(np.float32)
    array_logger.log("weights", {"episode": episode}, weights)

array_logger.close()
