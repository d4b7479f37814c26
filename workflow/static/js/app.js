// The app's own script (served from 'self'; the CSP allows no inline script).
// The pages work without it: the live score is htmx + a server-rendered fragment, and the
// "重新计算" button does the same by a plain form post.
(function () {
  "use strict";

  // Show the 偏差原因分析及改进措施 box where the server's scorecard says a reason is needed
  // (and keep it shown while it holds text, so nothing typed is ever hidden).
  function syncReasons(root) {
    (root || document).querySelectorAll("[data-needs-reason]").forEach(function (box) {
      var code = box.getAttribute("data-code");
      var reason = document.getElementById("reason-" + code);
      if (!reason) { return; }
      var area = reason.querySelector("textarea");
      var needed = box.getAttribute("data-needs-reason") === "1";
      var filled = area && area.value.trim() !== "";
      reason.classList.toggle("d-none", !(needed || filled));
    });
  }

  document.addEventListener("htmx:afterSettle", function () { syncReasons(document); });
  document.addEventListener("DOMContentLoaded", function () {
    syncReasons(document);
    // Bulk selection: a "select all" checkbox for the finance queue.
    document.querySelectorAll("[data-select-all]").forEach(function (master) {
      master.addEventListener("change", function () {
        var name = master.getAttribute("data-select-all");
        document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
          box.checked = master.checked;
        });
      });
    });
  });
})();
