# Verbatim from the README of the pure-Python array_logger 1.x (README.md, "Quick start"): do not edit.
import array_logger

# 圧縮あり（デフォルト、レベル22 = 最高圧縮率）
array_logger.init("./logs", compression_level=22)

# 圧縮あり（レベル3 = 高速・低圧縮率）
array_logger.init("./logs", compression_level=3)

# 圧縮なし
array_logger.init("./logs", compression_level=None)
