function B = imhistmatch(A, ref, nbins)
% IMHISTMATCH stand-in for GNU Octave, whose image package has none (mefkit test harness).
% Written from MATLAB's documentation of imhistmatch ("uniform" method: histeq of A with
% the nbins-bin histogram of ref) and of histeq(A, hgram): the monotonic map T of the
% levels of A minimises |c1(T(a)) - c0(a)| (c0: cumulative histogram of A, c1: cumulative
% target), where c1(T(a)) may not fall below c0(a) by more than half the count at a.
% uint8 images and nbins = 256 only (all the MEF-SSIMd code uses).
if ~isa(A, 'uint8') || ~isa(ref, 'uint8') || nbins ~= 256
  error('imhistmatch stand-in: uint8 images and 256 bins only');
end
npix = numel(A);
hgram = accumarray(double(ref(:)) + 1, 1, [256 1])';
hgram = hgram * (npix / sum(hgram));
cum = cumsum(hgram);                       % target cumulative, 1 x 256 (output levels)
nn = accumarray(double(A(:)) + 1, 1, [256 1])';
cumd = cumsum(nn);                         % input cumulative, 1 x 256 (input levels)
tol = min([nn(1:end-1), 0; 0, nn(2:end)]) / 2;
err = cum(:) * ones(1, 256) - ones(256, 1) * cumd + ones(256, 1) * tol;
err(err < -npix * sqrt(eps)) = npix;
[~, T] = min(err);                         % first minimising output level per input level
lut = uint8(T - 1);
B = reshape(lut(double(A(:)) + 1), size(A));
end
