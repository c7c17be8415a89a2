# Verbatim from the README of the pure-Python array_logger 1.x (README.md, "Quick start"): do not edit.
import numpy as np
import array_logger

# 1. 初期化（実験中に一度だけ）
# compression_level: 1-22（高いほど圧縮率が高い）、None で圧縮無効（デフォルト: 22）
array_logger.init(root_path="./logs", compression_level=22)

# 2. 配列の種類を登録
array_logger.register(
    name="q_values",           # 配列の名前（DBファイル名になる）
    keys=["episode", "step"],  # インデックス用のキー
    shape=(10, 5),            # 配列のshape
    dtype="float32"           # データ型
)

# 3. データを記録（実験ループ内で繰り返し呼ぶ）
for episode in range(100):
    for step in range(50):
        q = np.random.rand(10, 5).astype(np.float32)
        array_logger.log(
            name="q_values",
            key_values={"episode": episode, "step": step},
            array=q
        )

# 4. 終了（全データをcommit）
array_logger.close()
