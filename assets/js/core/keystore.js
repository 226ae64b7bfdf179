// Where this browser keeps sealed rooms' content keys: IndexedDB, which stores a CryptoKey as
// it is (made non-extractable, so no script can read its bytes out, ours included). Keys are
// named `<user id>:<room id>`; signing out clears them all.

const DB = "natter-keys";
const STORE = "keys";

function opened() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, work) {
  const db = await opened();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const keyStore = {
  get: (id) => run("readonly", (s) => s.get(id)),
  put: (id, key) => run("readwrite", (s) => s.put(key, id)),
  delete: (id) => run("readwrite", (s) => s.delete(id)),
  clear: () => run("readwrite", (s) => s.clear()),
};
