# Verbatim from the README of the pure-Python array_logger 1.x (README.md, "Quick start"): do not edit.
import array_logger

reader = array_logger.open_reader("./logs/q_values.db")

# 特定のエピソードのみ取得
for keys_dict, array in reader.iterate(where_clause="episode = ?", params=(10,)):
    print(f"Step {keys_dict['step']}: {array}")

reader.close()
