import { x } from "./protocol/a.ts"; console.log(x);
