// The app's own script (served from 'self'; the CSP allows no inline script).
// The pages work without it: the live score is htmx + a server-rendered fragment, and the
// "重新计算" button does the same by a plain form post.
(function () {
  "use strict";
  // base.html loads this on every page; a page that also names it must not run it twice.
  if (window.jixiaoApp) { return; }
  window.jixiaoApp = true;

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

  // A table wider than a phone scrolls sideways in its wrapper: the wrapper is then a stop
  // of the keyboard (arrow keys scroll it) with a name for screen readers.
  function scrollRegions(root) {
    (root || document).querySelectorAll(".table-responsive").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        var caption = box.querySelector("caption, h2, h3");
        box.setAttribute("aria-label", (caption && caption.textContent.trim()) || "表格（可左右滚动）");
      } else if (!scrolls && box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }

  // In a table form (marked data-enter-next), Enter in a cell moves to the next cell
  // (Shift+Enter to the one before) instead of submitting with the form's first button.
  // Not while an input method is composing: Enter then confirms the Chinese characters.
  document.addEventListener("keydown", function (e) {
    var el = e.target;
    var form = el.form || (el.closest && el.closest("form"));
    if (e.key !== "Enter" || e.isComposing || e.keyCode === 229 || !form ||
        !form.hasAttribute("data-enter-next")) { return; }
    if (!(el.tagName === "INPUT" || el.tagName === "SELECT") ||
        el.type === "submit" || el.type === "button" || el.type === "file") { return; }
    e.preventDefault();
    var list = Array.prototype.filter.call(
      form.querySelectorAll("input:not([type=hidden]):not([type=file]), select, textarea"),
      function (f) { return !f.disabled && !f.readOnly && f.offsetParent !== null; });
    var next = list[list.indexOf(el) + (e.shiftKey ? -1 : 1)];
    if (next) {
      next.focus();
      if (next.tagName === "INPUT" && next.select && next.type !== "checkbox") { next.select(); }
    }
  });

  // A form that uploads files (data-max-upload: the server's request limit in bytes) is
  // not sent when the files chosen exceed it: the server could not read the form, and what
  // was typed beside the files would be lost. The server checks again.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var max = form && form.getAttribute && Number(form.getAttribute("data-max-upload"));
    if (!max) { return; }
    var total = 0;
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (f) { total += f.size; });
    });
    if (total <= max) { return; }
    e.preventDefault();
    var box = form.querySelector("[data-upload-error]");
    if (box) {
      box.textContent = "所选文件合计 " + (total / 1048576).toFixed(1) + " MB，一次最多提交 " +
        Math.floor(max / 1048576) + " MB：请分几次提交或压缩文件。已填写的内容仍在。";
    }
  });

  window.addEventListener("resize", function () { scrollRegions(document); });
  document.addEventListener("htmx:afterSettle", function () { syncReasons(document); scrollRegions(document); });
  document.addEventListener("DOMContentLoaded", function () {
    syncReasons(document);
    scrollRegions(document);
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
