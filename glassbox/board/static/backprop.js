// glassbox board: the backprop step-through view (uses state, el, $, getJSON from board.js and fmt from charts.js).
"use strict";

// ----- backprop step-through --------------------------------------------------------------------------------------
async function loadBackprop(generation) {
  try {
    const data = await getJSON(runUrl(state.selected) + "/backprop");
    if (generation !== state.generation) return;
    state.steps = Array.isArray(data) ? data : (data.steps || []);
    state.stepIndex = Math.min(state.stepIndex, Math.max(0, state.steps.length - 1));
    renderStep();
  } catch (error) {
    $("backprop").replaceChildren(el("p", { className: "error", text: "backprop_steps.json: " + error.message }));
  }
}

function summaryView(summary) {
  if (!summary || typeof summary !== "object") return el("span", { className: "muted", text: "—" });
  const shape = Array.isArray(summary.shape) ? summary.shape : [];
  const values = Array.isArray(summary.values) ? summary.values : [];
  const wrap = el("div", { className: "summary" });
  wrap.append(el("span", { className: "shape", text: "shape [" + shape.join(", ") + "]" }), " ",
    el("span", { className: "norm", text: "norm " + fmt(summary.norm) }));
  if (!summary.truncated && shape.length === 2 && shape[0] * shape[1] === values.length && values.length) {
    const rows = [];
    for (let r = 0; r < shape[0]; r += 1) {
      rows.push(el("tr", {}, ...values.slice(r * shape[1], (r + 1) * shape[1]).map((v) => el("td", { text: fmt(v) }))));
    }
    wrap.append(el("table", { className: "matrix", "aria-label": "values" }, el("tbody", {}, ...rows)));
  } else {
    wrap.append(el("code", { className: "values",
      text: "[" + values.map(fmt).join(", ") + (summary.truncated ? ", …" : "") + "]" }));
  }
  return wrap;
}

function renderStep() {
  const steps = state.steps, box = $("backprop");
  const count = steps.length;
  const index = Math.max(0, Math.min(state.stepIndex, count - 1));
  state.stepIndex = count ? index : 0;
  $("step-index").textContent = count ? `Step ${index + 1} of ${count}` : "Step 0 of 0";
  $("step-index").dataset.index = String(count ? index : -1);
  $("step-prev").disabled = $("step-first").disabled = !count || index === 0;
  $("step-next").disabled = $("step-last").disabled = !count || index >= count - 1;
  const slider = $("step-slider");
  slider.max = String(Math.max(0, count - 1));
  slider.value = String(index);
  slider.setAttribute("aria-valuetext", $("step-index").textContent);
  if (!count) {
    box.replaceChildren(el("p", { className: "muted", text: "No backprop steps in this run." }));
    return;
  }
  const step = steps[index];
  const previous = index > 0 ? (steps[index - 1].accumulated || {}) : {};
  const inputs = step.inputs || [];
  const accumulated = Object.entries(step.accumulated || {});
  box.replaceChildren(
    el("h3", {}, el("span", { className: "node", text: step.node || "" }), " ",
      el("span", { className: "op-badge", text: step.op || "" }),
      step.done ? el("span", { className: "done-badge", text: "done: every gradient is computed" }) : null),
    el("p", { className: "words", text: step.words || "" }),
    step.symbols ? el("p", { className: "symbols" }, el("code", { text: step.symbols })) : null,
    el("div", { className: "two-columns" },
      el("div", {}, el("h4", { text: "Value of this node (forward)" }), summaryView(step.value)),
      el("div", {}, el("h4", { text: "Upstream gradient arriving here" }), summaryView(step.upstream))),
    el("h4", { text: "Gradients passed to the inputs" }),
    inputs.length ? el("table", { className: "inputs" },
      el("thead", {}, el("tr", {}, ...["Input", "Local derivative", "Gradient"].map((t) =>
        el("th", { scope: "col", text: t })))),
      el("tbody", {}, ...inputs.map((input) => el("tr", {},
        el("th", { scope: "row", text: input.name || "" }),
        el("td", {}, input.local ? el("code", { text: input.local }) : el("span", { className: "muted", text: "—" })),
        el("td", {}, summaryView(input.grad))))))
      : el("p", { className: "muted", text: "This node has no inputs that need a gradient." }),
    el("h4", { text: "Leaf gradients accumulated so far" }),
    accumulated.length ? el("table", { className: "accumulated" },
      el("tbody", {}, ...accumulated.map(([name, summary]) => {
        const fresh = JSON.stringify(previous[name]) !== JSON.stringify(summary);
        return el("tr", { className: fresh ? "fresh" : null },
          el("th", { scope: "row" }, name, fresh ? el("span", { className: "new-badge", text: " updated" }) : null),
          el("td", {}, summaryView(summary)));
      })))
      : el("p", { className: "muted", text: "No leaf has received its gradient yet." }));
}

function goToStep(index) {
  if (!state.steps.length) return;
  state.stepIndex = Math.max(0, Math.min(index, state.steps.length - 1));
  renderStep();
}
