// Writes a checked import batch after batch, moving the progress bar; without script the form
// posts one batch per click instead.
(function () {
  var form = document.getElementById("import-run");
  if (!form || !window.fetch) return;
  var bar = document.getElementById("import-progress");
  var text = document.getElementById("import-progress-text");
  var counts = document.getElementById("import-counts");
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = document.getElementById("confirm-import");
    button.disabled = true;
    var token = form.querySelector("input[name=_csrf_token]").value;
    function step() {
      fetch(form.dataset.step, {
        method: "POST",
        headers: { "x-csrftoken": token, "Accept": "application/json" },
        credentials: "same-origin",
      }).then(function (r) {
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      }).then(function (job) {
        bar.max = job.total;
        bar.value = job.done;
        text.textContent = fill(form.dataset.progress, job);
        counts.textContent = fill(form.dataset.counts, job);
        if (job.status === "done") {
          form.hidden = true;
          document.getElementById("import-done").hidden = false;
        } else {
          step();
        }
      }).catch(function () { button.disabled = false; form.submit(); });
    }
    step();
  });
})();
