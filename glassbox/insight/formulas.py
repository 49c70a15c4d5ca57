"""The local derivative of every primitive op, in plain words and in symbols, for the step-through backward pass."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Formula:
    """What one op's backward does. `label` is a short tag ('σ', '+', 'conv2d'), `words` a plain-language sentence,
    `symbols` the derivative written out, `locals` one short local-derivative symbol per input position (the last
    one repeats for ops with any number of inputs, e.g. cat), `known` False for the generic fallback."""

    label: str
    words: str
    symbols: str
    locals: tuple = ()
    known: bool = True

    def local(self, index):
        """The local-derivative symbol of input `index`, or None when there is none to show."""
        if not self.locals:
            return None
        return self.locals[min(index, len(self.locals) - 1)]


# name -> (label, words, symbols, locals). Keyed by the op class's name so that this table needs no imports; a
# subclass without its own row (WeightedEmbeddingBag) finds its base class's row through the MRO.
_TABLE = {
    # ----- elementwise arithmetic ---------------------------------------------------------------------------------
    "Add": ("+", "sum: the upstream gradient passes unchanged to both inputs (summed over any dimension that "
                 "broadcasting stretched)",
            "∂(a+b)/∂a = 1, ∂(a+b)/∂b = 1", ("1", "1")),
    "Sub": ("−", "difference: the first input gets the upstream gradient, the second input its negative",
            "∂(a−b)/∂a = 1, ∂(a−b)/∂b = −1", ("1", "−1")),
    "Mul": ("×", "product: each input's gradient is the upstream gradient times the other input",
            "∂(a·b)/∂a = b, ∂(a·b)/∂b = a", ("b", "a")),
    "Div": ("÷", "quotient: the numerator's gradient is the upstream gradient divided by the denominator; the "
                 "denominator's is minus the upstream gradient times a/b²",
            "∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b²", ("1/b", "−a/b²")),
    "Pow": ("^", "power: the base's gradient is b·a^(b−1) times the upstream gradient, the exponent's is "
                 "a^b·ln a times it",
            "∂(aᵇ)/∂a = b·aᵇ⁻¹, ∂(aᵇ)/∂b = aᵇ·ln a", ("b·a^(b−1)", "a^b·ln a")),
    "RPowScalar": ("c^a", "exponential with a constant base c: the gradient is the output times ln c",
                   "∂(cᵃ)/∂a = cᵃ·ln c", ("c^a·ln c",)),
    "Neg": ("−a", "negation: the gradient is the upstream gradient with its sign flipped", "∂(−a)/∂a = −1", ("−1",)),
    "Exp": ("exp", "exponential: the gradient is the upstream gradient times the output eᵃ itself",
            "∂eᵃ/∂a = eᵃ", ("e^a",)),
    "Log": ("ln", "natural log: the gradient is the upstream gradient divided by the input",
            "∂ln(a)/∂a = 1/a", ("1/a",)),
    "Log1p": ("ln(1+a)", "log of one plus the input: the gradient is the upstream gradient divided by 1 + a",
              "∂ln(1+a)/∂a = 1/(1+a)", ("1/(1+a)",)),
    "Sqrt": ("√", "square root: the gradient is the upstream gradient divided by twice the output",
             "∂√a/∂a = 1/(2√a)", ("1/(2√a)",)),
    "Rsqrt": ("1/√", "reciprocal square root: the gradient is −½ times the output cubed times the upstream gradient",
              "∂a^(−1/2)/∂a = −½·a^(−3/2)", ("−½·a^(−3/2)",)),
    "Abs": ("|a|", "absolute value: the gradient is the upstream gradient times the sign of the input (0 at 0)",
            "∂|a|/∂a = sign(a)", ("sign(a)",)),
    "Sin": ("sin", "sine: the gradient is the upstream gradient times cos of the input", "∂sin(a)/∂a = cos(a)",
            ("cos(a)",)),
    "Cos": ("cos", "cosine: the gradient is the upstream gradient times minus sin of the input",
            "∂cos(a)/∂a = −sin(a)", ("−sin(a)",)),
    "Maximum": ("max", "elementwise maximum: the gradient goes to whichever input was larger (half each on a tie)",
                "∂max(a,b)/∂a = [a>b] + ½[a=b], ∂max(a,b)/∂b = [b>a] + ½[a=b]", ("[a>b]", "[b>a]")),
    "Minimum": ("min", "elementwise minimum: the gradient goes to whichever input was smaller (half each on a tie)",
                "∂min(a,b)/∂a = [a<b] + ½[a=b], ∂min(a,b)/∂b = [b<a] + ½[a=b]", ("[a<b]", "[b<a]")),
    "Clamp": ("clamp", "clamp: the gradient passes where the input was inside the bounds and is 0 where it was "
                       "clipped",
              "∂clamp(a)/∂a = 1 if min ≤ a ≤ max else 0", ("[min≤a≤max]",)),
    "Where": ("where", "selection: each input gets the upstream gradient at the positions it was picked from, "
                       "0 elsewhere",
              "∂where(c,a,b)/∂a = c, ∂where(c,a,b)/∂b = 1−c", ("c", "1−c")),
    "Cast": ("cast", "dtype change: the gradient passes unchanged, cast back to the input's dtype",
             "∂cast(a)/∂a = 1", ("1",)),
    "Clone": ("clone", "copy: the gradient passes unchanged", "∂clone(a)/∂a = 1", ("1",)),
    "Fill": ("fill", "filled with a constant: the output no longer depends on the input, so its gradient is 0",
             "∂c/∂a = 0", ("0",)),
    # ----- activations --------------------------------------------------------------------------------------------
    "Tanh": ("tanh", "tanh: the gradient is the upstream gradient times 1 minus the output squared",
             "∂tanh(x)/∂x = 1 − tanh²(x)", ("1−tanh²(x)",)),
    "Sigmoid": ("σ", "sigmoid: the gradient is the upstream gradient times σ(x)(1 − σ(x)), largest (¼) at x = 0 "
                     "and tiny where the sigmoid is saturated",
                "∂σ(x)/∂x = σ(x)(1−σ(x))", ("σ(x)(1−σ(x))",)),
    "Relu": ("ReLU", "ReLU: the gradient passes where the input was positive and is blocked (0) elsewhere",
             "∂max(x,0)/∂x = 1 if x > 0 else 0", ("[x>0]",)),
    "LeakyRelu": ("LeakyReLU", "leaky ReLU: the gradient passes where the input was positive and is multiplied by "
                               "the small negative slope α elsewhere",
                  "∂LeakyReLU(x)/∂x = 1 if x > 0 else α", ("1 or α",)),
    "Elu": ("ELU", "ELU: the gradient passes (times the scale) where the input was positive; elsewhere it is "
                   "multiplied by α·e^x, which fades to 0 for very negative inputs",
            "∂ELU(x)/∂x = 1 if x > 0 else α·eˣ", ("1 or α·e^x",)),
    "Gelu": ("GELU", "GELU: x times the normal CDF; the gradient is the upstream gradient times Φ(x) + x·φ(x)",
             "∂(x·Φ(x))/∂x = Φ(x) + x·φ(x)", ("Φ(x)+x·φ(x)",)),
    "Silu": ("SiLU", "SiLU (swish): x·σ(x); the gradient is the upstream gradient times σ(x)(1 + x(1 − σ(x)))",
             "∂(x·σ(x))/∂x = σ(x)(1 + x(1−σ(x)))", ("σ(x)(1+x(1−σ(x)))",)),
    "Softplus": ("softplus", "softplus: a smooth ReLU; its gradient is the upstream gradient times σ(βx)",
                 "∂softplus(x)/∂x = σ(βx)", ("σ(βx)",)),
    # ----- matrix products, convolutions --------------------------------------------------------------------------
    "MatMul": ("@", "matrix product: the left input's gradient is the upstream gradient times the right input "
                    "transposed; the right input's is the left input transposed times the upstream gradient",
               "Y = A·B: ∂L/∂A = ∂L/∂Y·Bᵀ, ∂L/∂B = Aᵀ·∂L/∂Y", ("·Bᵀ (right-multiplied)", "Aᵀ· (left-multiplied)")),
    "Linear": ("linear", "fully connected layer y = x·Wᵀ + b: the input's gradient is the upstream gradient times "
                         "W, the weight's is the upstream gradient transposed times the input, the bias's is the "
                         "upstream gradient summed over the batch",
               "y = x·Wᵀ + b: ∂L/∂x = ∂L/∂y·W, ∂L/∂W = (∂L/∂y)ᵀ·x, ∂L/∂b = Σₙ ∂L/∂y", ("W", "x (outer product)",
                                                                                           "1 (summed over rows)")),
    "Conv2d": ("conv2d", "convolution: each input pixel collects the upstream gradients of every output window it "
                         "fell in, weighted by the kernel (a transposed convolution); each kernel weight's gradient "
                         "correlates the input with the upstream gradient; the bias gets the upstream gradient "
                         "summed over the batch and all positions",
               "y = W ⋆ x + b: ∂L/∂x = Wᵀ ⋆ ∂L/∂y (transposed conv), ∂L/∂W = Σₙ x ⋆ ∂L/∂y, ∂L/∂b = Σₙ,ᵢ,ⱼ ∂L/∂y",
               ("W (transposed conv)", "x ⋆ (correlation)", "1 (summed)")),
    "ConvTranspose2d": ("conv_transpose2d", "transposed convolution: the input's gradient is an ordinary "
                                            "convolution of the upstream gradient with the kernel; the kernel's "
                                            "gradient correlates the upstream gradient with the input; the bias "
                                            "gets the upstream gradient summed",
                        "y = Wᵀ ⋆ x + b: ∂L/∂x = W ⋆ ∂L/∂y, ∂L/∂W = Σₙ ∂L/∂y ⋆ x, ∂L/∂b = Σ ∂L/∂y",
                        ("W (conv)", "∂L/∂y ⋆ x", "1 (summed)")),
    # ----- pooling, resizing --------------------------------------------------------------------------------------
    "MaxPool2d": ("maxpool", "max pooling: each window's upstream gradient goes entirely to the position that held "
                             "the maximum; every other position gets 0",
                  "∂max(window)/∂xᵢ = 1 if xᵢ is the window's max else 0", ("[argmax]",)),
    "AdaptiveMaxPool2d": ("adaptive maxpool", "adaptive max pooling: each window's upstream gradient goes to the "
                                              "position of its maximum",
                          "∂max(window)/∂xᵢ = 1 if xᵢ is the window's max else 0", ("[argmax]",)),
    "AvgPool2d": ("avgpool", "average pooling: each window's upstream gradient is shared equally among the k "
                             "positions it averaged",
                  "∂mean(window)/∂xᵢ = 1/k", ("1/k",)),
    "AdaptiveAvgPool2d": ("adaptive avgpool", "adaptive average pooling: each window's upstream gradient is shared "
                                              "equally among the positions of that window",
                          "∂mean(window)/∂xᵢ = 1/|window|", ("1/|window|",)),
    "UpsampleNearest2d": ("upsample nearest", "nearest upsampling: each input pixel gets the sum of the upstream "
                                              "gradients of all the output pixels that copied it",
                          "∂L/∂x[p] = Σ_{q copies p} ∂L/∂y[q]", ("Σ over copies",)),
    "UpsampleBilinear2d": ("upsample bilinear", "bilinear upsampling: the upstream gradient flows back with the "
                                                "same interpolation weights (the transposed interpolation)",
                           "y = A_h·x·A_wᵀ: ∂L/∂x = A_hᵀ·∂L/∂y·A_w", ("A_hᵀ·(·)·A_w",)),
    # ----- normalisation ------------------------------------------------------------------------------------------
    "BatchNorm": ("batchnorm", "batch normalisation x̂ = (x − μ)/σ per channel, y = γx̂ + β: the input's gradient is "
                               "γ/σ times the upstream gradient minus its batch mean and minus x̂ times the mean of "
                               "(gradient·x̂); γ's gradient is Σ gradient·x̂; β's is Σ gradient",
                  "∂L/∂x = (γ/σ)(g − mean(g) − x̂·mean(g·x̂)), ∂L/∂γ = Σ g·x̂, ∂L/∂β = Σ g",
                  ("(γ/σ)(1 − 1/m − x̂x̂ᵀ/m)", "x̂", "1")),
    "LayerNorm": ("layernorm", "layer normalisation x̂ = (x − μ)/σ over the last dims of each sample, y = γx̂ + β: "
                               "the input's gradient is γ/σ times the upstream gradient minus its mean and minus x̂ "
                               "times the mean of (gradient·x̂); γ's gradient is Σ gradient·x̂; β's is Σ gradient",
                  "∂L/∂x = (γ/σ)(g − mean(g) − x̂·mean(g·x̂)), ∂L/∂γ = Σ g·x̂, ∂L/∂β = Σ g",
                  ("(γ/σ)(1 − 1/m − x̂x̂ᵀ/m)", "x̂", "1")),
    "GroupNorm": ("groupnorm", "group normalisation x̂ = (x − μ)/σ over each group of channels, y = γx̂ + β: the "
                               "input's gradient is γ/σ times the upstream gradient minus its group mean and minus "
                               "x̂ times the mean of (gradient·x̂); γ's gradient is Σ gradient·x̂; β's is Σ gradient",
                  "∂L/∂x = (γ/σ)(g − mean(g) − x̂·mean(g·x̂)), ∂L/∂γ = Σ g·x̂, ∂L/∂β = Σ g",
                  ("(γ/σ)(1 − 1/m − x̂x̂ᵀ/m)", "x̂", "1")),
    # ----- softmax and losses -------------------------------------------------------------------------------------
    "LogSoftmax": ("log_softmax", "log-softmax: the gradient is the upstream gradient minus softmax times the "
                                  "upstream gradient's sum over the class dimension",
                   "∂log softmax(x)ᵢ/∂xⱼ = δᵢⱼ − softmax(x)ⱼ, so ∂L/∂x = g − softmax(x)·Σg", ("δᵢⱼ − sⱼ",)),
    "Softmax": ("softmax", "softmax: the gradient is the output times (upstream gradient minus its "
                           "softmax-weighted average)",
                "∂sᵢ/∂xⱼ = sᵢ(δᵢⱼ − sⱼ), so ∂L/∂x = s·(g − Σ g·s)", ("sᵢ(δᵢⱼ − sⱼ)",)),
    "CrossEntropy": ("cross-entropy", "cross-entropy from logits: each logit's gradient is its softmax "
                                      "probability minus the target probability (1 for the true class), divided "
                                      "by the batch size for the mean",
                     "∂CE/∂z = (softmax(z) − y)/N", ("(softmax(z) − y)/N", "−log softmax(z)/N")),
    "NllLoss": ("nll", "negative log-likelihood: the gradient is −1/N at each sample's true class and 0 elsewhere",
                "∂NLL/∂logpᵢ꜀ = −[c = yᵢ]/N", ("−onehot(y)/N",)),
    "BinaryCrossEntropy": ("bce", "binary cross-entropy on probabilities: the gradient is (p − y)/(p(1 − p)), "
                                  "divided by N for the mean",
                           "∂BCE/∂p = (p − y)/(p(1−p)), ∂BCE/∂y = ln((1−p)/p)", ("(p−y)/(p(1−p))", "ln((1−p)/p)")),
    "BinaryCrossEntropyWithLogits": ("bce logits", "binary cross-entropy from logits: each logit's gradient is its "
                                                   "sigmoid minus the target, divided by N for the mean",
                                     "∂BCE/∂x = σ(x) − y, ∂BCE/∂y = −x", ("σ(x) − y", "−x")),
    "Dropout": ("dropout", "dropout: the gradient passes only where the element was kept, scaled by 1/(1 − p) like "
                           "the forward",
                "∂(x·m/(1−p))/∂x = m/(1−p)", ("m/(1−p)",)),
    "ChannelDropout": ("dropout2d", "channel dropout: the gradient passes only through kept channels, scaled by "
                                    "1/(1 − p)",
                       "∂(x·m/(1−p))/∂x = m/(1−p)", ("m/(1−p)",)),
    # ----- reductions ---------------------------------------------------------------------------------------------
    "Sum": ("Σ", "sum: every input element contributed with weight 1, so each gets the upstream gradient",
            "∂(Σᵢ aᵢ)/∂aᵢ = 1", ("1",)),
    "Mean": ("mean", "mean: every input element contributed with weight 1/n, so each gets the upstream gradient "
                     "divided by n",
             "∂(Σᵢ aᵢ/n)/∂aᵢ = 1/n", ("1/n",)),
    "Prod": ("Π", "product: each element's gradient is the upstream gradient times the product of all the other "
                  "elements",
             "∂(Πⱼ aⱼ)/∂aᵢ = Πⱼ≠ᵢ aⱼ", ("Πⱼ≠ᵢ aⱼ",)),
    "Amax": ("amax", "maximum: the gradient goes to the maximal element (shared equally among ties)",
             "∂max(a)/∂aᵢ = [aᵢ = max]/#ties", ("[aᵢ=max]/k",)),
    "Amin": ("amin", "minimum: the gradient goes to the minimal element (shared equally among ties)",
             "∂min(a)/∂aᵢ = [aᵢ = min]/#ties", ("[aᵢ=min]/k",)),
    "SelectAlongDim": ("select", "selection along a dimension (max/min with indices): the gradient goes to exactly "
                                 "the selected positions",
                       "∂a[idx]/∂aᵢ = [i = idx]", ("[i=idx]",)),
    "LogSumExp": ("logsumexp", "log-sum-exp: each element's gradient is the upstream gradient times its softmax "
                               "weight",
                  "∂log Σⱼ e^aⱼ/∂aᵢ = softmax(a)ᵢ", ("softmax(a)ᵢ",)),
    # ----- movement -----------------------------------------------------------------------------------------------
    "Reshape": ("reshape", "reshape: no arithmetic; the gradient is reshaped back to the input's shape",
                "∂L/∂x = reshape(∂L/∂y, x.shape)", ("reshape back",)),
    "Permute": ("permute", "permute/transpose: no arithmetic; the gradient's axes are put back in the input's order",
                "∂L/∂x = permute(∂L/∂y, inverse order)", ("inverse permute",)),
    "Expand": ("expand", "expand (broadcast): every copy sends its gradient back, so they are summed over the "
                         "expanded dimensions",
               "∂L/∂x = Σ over expanded dims of ∂L/∂y", ("Σ over copies",)),
    "Flip": ("flip", "flip: the gradient is flipped back along the same axes", "∂L/∂x = flip(∂L/∂y)", ("flip back",)),
    "Repeat": ("repeat", "repeat (tile): the gradients of all copies of an element add up",
               "∂L/∂x = Σ over tiles of ∂L/∂y", ("Σ over tiles",)),
    "GetItem": ("index", "indexing: the gradient goes back to the picked positions (added up where a position was "
                         "picked twice) and is 0 everywhere else",
                "∂L/∂a = scatter-add of ∂L/∂y into a's shape", ("scatter back",)),
    "IndexPut": ("index_put", "indexed assignment: the replaced positions of the original get 0, the assigned "
                              "values get the upstream gradient at those positions",
                 "∂L/∂a = g with the indexed part zeroed, ∂L/∂v = g[index]", ("1 outside index", "g[index]")),
    "Cat": ("cat", "concatenation: the gradient is split back into the pieces that were joined",
            "∂L/∂xₖ = the k-th slice of ∂L/∂y", ("slice k",)),
    "Stack": ("stack", "stack: the gradient is unstacked, one slice per input", "∂L/∂xₖ = ∂L/∂y[k]", ("slice k",)),
    "Pad": ("pad", "padding: the gradient of the padding is dropped (reflected or replicated borders add back into "
                   "the positions they copied)",
            "∂L/∂x = crop(∂L/∂y)", ("crop",)),
    "Gather": ("gather", "gather: each gathered element's gradient is added back at the position it came from",
               "∂L/∂a = scatter_add(∂L/∂y, index)", ("scatter-add",)),
    "ScatterAdd": ("scatter_add", "scatter-add: the base gets the upstream gradient unchanged; each scattered "
                                  "source element gets the gradient at the position it was added to",
                   "∂L/∂a = g, ∂L/∂src = gather(g, index)", ("1", "gather(g)")),
    "IndexSelect": ("index_select", "index select: each selected row's gradient is added back into the row it came "
                                    "from",
                    "∂L/∂a = index_add(∂L/∂y, index)", ("index-add",)),
    "Tril": ("tril", "lower triangle: the gradient passes on and below the diagonal, 0 above",
             "∂tril(a)/∂a = [j ≤ i + k]", ("[j≤i+k]",)),
    "Triu": ("triu", "upper triangle: the gradient passes on and above the diagonal, 0 below",
             "∂triu(a)/∂a = [j ≥ i + k]", ("[j≥i+k]",)),
    "_TakeRows": ("take rows", "row selection: each taken row's gradient is put back into its row",
                  "∂L/∂rows[index[i]] = ∂L/∂y[i]", ("put back",)),
    # ----- embeddings ---------------------------------------------------------------------------------------------
    "Embedding": ("embedding", "embedding lookup: the gradient of each looked-up vector is added into its row of "
                               "the table (rows used twice add up; rows never used get 0)",
                  "∂L/∂W[r] = Σ_{i: idx[i] = r} ∂L/∂y[i]", ("scatter-add into rows",)),
    "EmbeddingBag": ("embedding_bag", "embedding bag: each bag's gradient is shared out to the rows in it (scaled "
                                      "by 1/size for mean, by the sample weight when given, only the max row for "
                                      "max)",
                     "∂L/∂W[r] = Σ_bags w·∂L/∂y[bag]", ("scatter into rows", "W[idx]·g")),
    # ----- recurrences (fused over time) --------------------------------------------------------------------------
    "RNNSequence": ("rnn", "recurrent layer, backpropagation through time: the gradient runs backwards over the "
                           "time steps, through the activation's derivative and W_hh at each step; weight gradients "
                           "add up over all steps",
                    "hₜ = act(Wᵢₕxₜ + Wₕₕhₜ₋₁ + b): ∂L/∂hₜ₋₁ = Wₕₕᵀ(act′ ⊙ ∂L/∂hₜ), ∂L/∂W = Σₜ (act′ ⊙ ∂L/∂hₜ)·inputᵀ",
                    ("through time",)),
    "LSTMSequence": ("lstm", "LSTM, backpropagation through time: the gradient runs backwards over the time steps "
                             "through the four gates and the cell state (whose path f ⊙ cₜ₋₁ lets it survive long "
                             "sequences); weight gradients add up over all steps",
                     "cₜ = f⊙cₜ₋₁ + i⊙g, hₜ = o⊙tanh(cₜ): ∂L/∂cₜ₋₁ = f⊙∂L/∂cₜ, gate gradients through σ′ and tanh′",
                     ("through time",)),
    "GRUSequence": ("gru", "GRU, backpropagation through time: the gradient runs backwards over the time steps "
                           "through the reset and update gates; weight gradients add up over all steps",
                    "hₜ = (1−z)⊙n + z⊙hₜ₋₁: ∂L/∂hₜ₋₁ = z⊙∂L/∂hₜ + (paths through r, z and n)", ("through time",)),
}


def _pow_scalar(params):
    """a ** p with the actual exponent written in, when the trace recorded it."""
    p = params.get("exponent") if params else None
    if p is None:
        return ("aᵖ", "power with a constant exponent p: the gradient is p·a^(p−1) times the upstream gradient",
                "∂(aᵖ)/∂a = p·aᵖ⁻¹", ("p·a^(p−1)",))
    p_text = f"{p:g}" if isinstance(p, float) else str(p)
    lower = f"{p - 1:g}"
    local = "2a" if p == 2 else f"{p_text}·a^{lower}"
    return (f"a^{p_text}", f"power a^{p_text}: the gradient is {local} times the upstream gradient",
            f"∂(a^{p_text})/∂a = {local}", (local,))


def _batch_norm(params):
    """Batch norm in eval mode uses fixed running statistics: then it is only an affine map of x."""
    row = _TABLE["BatchNorm"]
    if params and params.get("training") is False:
        return ("batchnorm (eval)", "batch normalisation with the running statistics: an affine map, so the "
                                    "input's gradient is the upstream gradient times γ/√(running var + ε)",
                "y = γ(x − μ_run)/σ_run + β: ∂L/∂x = γ/σ_run·g, ∂L/∂γ = Σ g·x̂, ∂L/∂β = Σ g", ("γ/σ_run", "x̂", "1"))
    return row


_PARAMETRISED = {"PowScalar": _pow_scalar, "BatchNorm": _batch_norm}


def _names_in_mro(op):
    cls = op if isinstance(op, type) else type(op)
    return [klass.__name__ for klass in getattr(cls, "__mro__", (cls,))]


def lookup(op, params=None):
    """The Formula of `op`: a Function subclass, a graph node (an instance of one) or an op class name.

    `params` are the keyword arguments the op ran with (from a trace), used where they change the formula (the
    exponent of a ** 2, batch norm in eval mode). An op without a row gets a generic formula with known=False;
    this never raises.
    """
    names = [op] if isinstance(op, str) else _names_in_mro(op)
    for name in names:
        if name in _PARAMETRISED:
            return Formula(*_PARAMETRISED[name](params))
        if name in _TABLE:
            return Formula(*_TABLE[name])
        if name == "Function":
            break
    name = names[0] if names else "op"
    return Formula(name, f"{name}: no formula is written down for this op here; its own backward() turns the "
                         "upstream gradient into one gradient per input",
                   f"∂L/∂input = {name}.backward(∂L/∂output)", (), known=False)


def known_ops():
    """The op class names that have a written formula (for tests and documentation)."""
    return sorted(set(_TABLE) | set(_PARAMETRISED))
