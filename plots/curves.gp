# curves.gp: feature error of each learned layer over training steps, e2e against layerwise
# on the same data and seed; colour = method, dash = layer; dotted verticals mark the ends
# of the stages (a new layer joins the output). Backward feature correction shows as the
# e2e layer-2 error falling after its own stage while the layerwise one stays flat.
#   gnuplot -c plots/curves.gp fig_curves_X.csv out.png ["title"]
# Input: blocks of "global_step,feature_error" rows, one per method and layer (methods in
# order, the same layers each), then a last block of stage boundaries "step,lo,hi".
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
nseries = nblocks - 1
set logscale y
set xlabel "training step"
set ylabel "feature error  min_A ‖[S_l, 1]A − S@^*_l‖^2 / ‖S@^*_l − mean‖^2"
set format y "%g"
set key outside right top
# layers per method: the series are e2e l2..l(L-1), then layerwise l2..l(L-1)
nl = nseries / 2
if (nl < 1) { nl = 1 }
plot for [i=0:nseries-1] in_csv index i using 1:2 with lines lw 1.5 \
         lc rgb block_color(i) dt 1 + i % nl title columnheader(1), \
     in_csv index nseries using 1:2:(0):($3 - $2) with vectors nohead lc rgb "#777777" dt 3 \
         title "end of a stage"
