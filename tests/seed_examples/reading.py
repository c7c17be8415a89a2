# Verbatim from the README of the pure-Python array_logger 1.x (README.md, "Quick start"): do not edit.
import array_logger

# リーダーを開く（圧縮ファイル .db.zst も自動的に認識・解凍）
reader = array_logger.open_reader("./logs/q_values.db")

# 全データをイテレート
for keys_dict, array in reader.iterate():
    print(f"Episode {keys_dict['episode']}, Step {keys_dict['step']}")
    print(f"Array shape: {array.shape}, dtype: {array.dtype}")
    # array を使って分析...

reader.close()
