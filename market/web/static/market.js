// Small helpers every page may use; no framework, no build step.
(function () {
  "use strict";
  // Forms with data-confirm ask before they post (cancel, reject, close …).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    // One press only: a second tap while the first request is on its way does nothing.
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () { delete form.dataset.sent; }, 5000);
  });
  // <time data-countdown="seconds" data-expired="text"> counts down, mm:ss, from the seconds the
  // server gave when it drew the element (a phone's own clock may be wrong).
  function tick() {
    var now = performance.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!el.deadline) { el.deadline = now + 1000 * Number(el.getAttribute("data-countdown")); }
      var left = Math.floor((el.deadline - now) / 1000);
      if (left <= 0) { el.textContent = el.getAttribute("data-expired") || "0:00"; return; }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
    });
  }
  // A refused form comes back with its errors: the cursor goes to the first field to correct, or,
  // when no field is to blame, to the message, so that a screen reader reads it out first.
  var wrong = document.querySelector("[aria-invalid=true]") || document.querySelector(".alert-error");
  if (wrong) {
    if (!wrong.matches("input, select, textarea")) { wrong.setAttribute("tabindex", "-1"); }
    wrong.focus();
  }
  // <div data-reload-in="seconds"> loads the page again then: the check-in QR code, which changes
  // every minute (a meta refresh would be the same to people, but is refused by accessibility checks).
  var reload = document.querySelector("[data-reload-in]");
  if (reload) { setTimeout(function () { location.reload(); }, 1000 * Number(reload.getAttribute("data-reload-in"))); }
  window.marketTick = tick;
  tick();
  setInterval(tick, 1000);
})();
