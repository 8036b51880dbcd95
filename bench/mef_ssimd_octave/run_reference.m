% mefkit test harness: score each case listed in CASES with the authors' MEF-SSIMd
% (mef_ms_ssim_d.m of github.com/h4nwei/MEF-SSIMd, default parameters) in GNU Octave.
% Expects the variables AUTHORS (the authors' code, strel disk line patched, see
% bench/mef_ssimd_reference.py), SHIMS (this folder) and CASES (cell array of folders, each
% with frame_1.png .. frame_K.png darkest first and one or more fused_<label>.png, 8-bit gray).
pkg load image
addpath(SHIMS);
addpath(AUTHORS);
addpath(fullfile(AUTHORS, 'support functions'));
for c = 1:numel(CASES)
  d = CASES{c};
  files = dir(fullfile(d, 'frame_*.png'));
  K = numel(files);
  first = imread(fullfile(d, 'frame_1.png'));
  imgSeq = zeros(size(first, 1), size(first, 2), K);
  for k = 1:K
    imgSeq(:, :, k) = double(imread(fullfile(d, sprintf('frame_%d.png', k))));
  end
  fused = dir(fullfile(d, 'fused_*.png'));
  for n = 1:numel(fused)
    fI = double(imread(fullfile(d, fused(n).name)));
    [Q, qMap] = mef_ms_ssim_d(imgSeq, fI);
    printf('RESULT %s %s %.17g %.17g %d\n', d, fused(n).name, Q, mean(qMap(:)), numel(qMap));
  end
end
