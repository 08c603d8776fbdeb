// The chart (components/chart_pending.py): leaving the page blurs the field being typed in (its
// debounced save is sent at once), and while the connection is down the browser asks first.
(function () {
  if (window.__chartLeaveGuard) return; window.__chartLeaveGuard = true;
  window.addEventListener('beforeunload', function (e) {
    var a = document.activeElement;
    if (a && a.name && a.name.indexOf('note:') === 0) a.blur();
    if (document.querySelector('[data-chart-offline="true"]')) { e.preventDefault(); e.returnValue = ''; }
  });
})();
