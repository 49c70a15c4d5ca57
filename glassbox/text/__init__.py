"""Text tools: vocabularies, tokenizers, language-model batching, padding, sampling, and a built-in corpus.

    from glassbox.text import WordTokenizer, lm_batches, pad_batch, sample_next, python_docs_text
"""

from .batching import LMBatches, lm_batches, pad_batch
from .corpus import python_docs_text, split_text
from .sampling import sample_next, softmax_probabilities
from .tokenizers import CharTokenizer, WordTokenizer
from .vocab import Vocab, VocabFileError

__all__ = ["Vocab", "VocabFileError", "CharTokenizer", "WordTokenizer", "LMBatches", "lm_batches", "pad_batch",
           "sample_next", "softmax_probabilities", "python_docs_text", "split_text"]
