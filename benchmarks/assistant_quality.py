"""Quality bars of "From language model to assistant", measured: prints,
never asserts (tests/test_store.py asserts the bars).

* Instruction tuning and DPO, each trained from scratch here, in this
  process, on one CPU thread, as genai.store trains the references: CPU
  time of the training. DPO starts from the shipped instruction-tuned
  reference, as its recipe does.
* On the 256 held-out questions (4 wordings that tuning never saw, 60
  countries and 4 made-up ones): answer accuracy, replies that end with
  <|end|>, replies that say more than asked, for the base model (the facts
  model with the chat tokens, asked the same text), the instruction-tuned
  model and the DPO model. The bars: tuned at least 90% right and 95%
  ended; DPO at least 90% of held-out pairs preferred the right way, and
  the concise reply more frequent than before.

    python benchmarks/assistant_quality.py
"""

import os
import sys
import time

import torch

from genai import store
from genai.llm.instruct import base_with_chat_tokens, evaluate, instruction_data
from genai.llm.preference import evaluate_pairs, preference_pairs

CPU = torch.device("cpu")


def main() -> None:
    print(f"torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, load average "
          f"{os.getloadavg()[0]:.2f}")
    trained = {}
    for name in ("assistant", "dpo"):
        start = time.process_time()
        trained[name] = store.train_model(name, log=lambda text: None)[0]
        print(f"{name}: trained from scratch in "
              f"{time.process_time() - start:.1f} s CPU (one thread)")
    held_out = instruction_data(held_out=True)
    base, tokenizer = base_with_chat_tokens(device=CPU)
    print(f"\n{len(held_out)} held-out questions   right   ended   verbose"
          f"   words")
    rows = [("base (same prompts)", base, tokenizer),
            ("instruction-tuned", trained["assistant"].model,
             trained["assistant"].tokenizer),
            ("DPO", trained["dpo"].model, trained["dpo"].tokenizer)]
    for name, model, tok in rows:
        s = evaluate(model.to(CPU), tok, held_out)
        print(f"{name:24s} {s['accuracy']:6.1%} {s['ended']:7.1%} "
              f"{s['verbose']:8.1%} {s['words']:7.1f}")
    pairs = evaluate_pairs(trained["dpo"].model, trained["assistant"].model,
                           trained["dpo"].tokenizer,
                           preference_pairs(held_out=True))
    print(f"\nDPO on {len(preference_pairs(held_out=True))} held-out pairs: "
          f"{pairs['preference_accuracy']:.1%} preferred the right way "
          f"(bar 90%), mean reward margin {pairs['reward_margin']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
