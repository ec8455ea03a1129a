// Placeholder until contracts land: compiles nothing.
console.log('compile-contracts: no contracts yet');
