// bcoin 1.0.2 ships no type declarations; fednode touches a handful of its
// objects only inside this folder, through the narrow shapes in bcoin-node.ts.
declare module 'bcoin';
