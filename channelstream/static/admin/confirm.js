// Asks before an action that cannot be undone, in the page's own modal <dialog>: Cancel has
// the focus, Escape cancels, and the focus goes back to what opened it.

const $ = (id) => document.getElementById(id);

export function confirmAction({ title, text, confirm }) {
    const dialog = $('confirm');
    const opener = document.activeElement;
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = confirm;
    dialog.returnValue = '';
    return new Promise((resolve) => {
        dialog.addEventListener('close', () => {
            if (opener && opener.isConnected) opener.focus();
            resolve(dialog.returnValue === 'confirm');
        }, { once: true });
        dialog.showModal();
        $('confirm-cancel').focus();
    });
}
