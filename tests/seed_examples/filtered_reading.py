# Verbatim from the pure-Python array_logger README (seeds/000): do not edit.
import array_logger

reader = array_logger.open_reader("./logs/q_values.db")

# 特定のエピソードのみ取得
for keys_dict, array in reader.iterate(where_clause="episode = ?", params=(10,)):
    print(f"Step {keys_dict['step']}: {array}")

reader.close()
