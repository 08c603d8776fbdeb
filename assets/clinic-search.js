// The patient search box (components/patient_search.py): Escape closes its results.
(function () {
  if (window.__clinicSearchKeys) return; window.__clinicSearchKeys = true;
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && e.target && e.target.closest && e.target.closest('.patient-search')) { e.target.blur(); }
  }, true);
})();
