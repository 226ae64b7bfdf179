// The component toolkit: Preact with htm's tagged templates (assets/vendor/), so components
// are plain ES modules with no build step and no `eval` (the page's CSP allows neither).

import { h, render, Component, Fragment, createContext, createRef } from "../../vendor/preact/preact.module.js";
import {
  useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useContext, useReducer,
} from "../../vendor/preact/hooks.module.js";
import htm from "../../vendor/htm/htm.module.js";

export const html = htm.bind(h);
export {
  h, render, Component, Fragment, createContext, createRef,
  useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useContext, useReducer,
};
