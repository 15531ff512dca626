// Progressive enhancement only: every page works without this file.
document.querySelectorAll("[data-copy]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      field.select();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    document.getElementById(button.dataset.copy + "-status").textContent = "Copied to the clipboard.";
  });
});
