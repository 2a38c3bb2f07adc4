/* The chairside page: keep the vitals countdown ticking between the server's 15-second refreshes.
 * Loaded as a file (the Content-Security-Policy forbids inline scripts). The server renders the
 * timer with `data-due-at` (ISO 8601); this only rewrites its text and marks it overdue. */
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function tick() {
    var timer = document.getElementById("vitals-timer");
    if (!timer || !timer.dataset.dueAt) { return; }
    var due = Date.parse(timer.dataset.dueAt);
    if (isNaN(due)) { return; }
    var left = Math.round((due - Date.now()) / 1000);
    var count = timer.querySelector("[data-countdown]");
    var whole = Math.abs(left);
    var text = Math.floor(whole / 60) + ":" + pad(whole % 60);
    if (count) { count.textContent = (left < 0 ? "overdue by " : "due in ") + text; }
    timer.classList.toggle("vitals-timer--overdue", left < 0);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
  });
})();
